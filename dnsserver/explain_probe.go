package dnsserver

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/kfed-dev/kfed/pkg/explain"
)

// probeKey is an entry point's host as one member's probes use it.
type probeKey struct {
	cluster, host string
}

// probeHost is an entry point as probe targets name it.
func probeHost(ep EntryPoint) string {
	if ep.Addr.IsValid() {
		return ep.Addr.String()
	}
	return strings.TrimSuffix(ep.Hostname, ".")
}

// explainProbes returns the probes of a Service's entry points, by member
// and host, as the running prober has them: none before the controller
// runs, or after it stopped.
func (f *Fed) explainProbes(svc *Service) map[probeKey][]explain.Probe {
	controllers.Lock()
	c := f.ctrl
	controllers.Unlock()
	if c == nil || c.prober == nil {
		return nil
	}
	want := map[probeKey]bool{}
	for _, sc := range svc.Clusters {
		for _, ep := range sc.EntryPoints {
			want[probeKey{sc.Name, probeHost(ep)}] = true
		}
	}
	return c.prober.explain(want)
}

// explain returns the probes of the members' hosts in want. Members that
// share a host with other ports or paths (one load balancer for several
// Services) show each of its probes.
func (p *prober) explain(want map[probeKey]bool) map[probeKey][]explain.Probe {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[probeKey][]explain.Probe{}
	for e, pr := range p.probes {
		for c := range pr.users {
			k := probeKey{c, e.Host}
			if !want[k] {
				continue
			}
			v := explain.Probe{Target: e.String(), Result: explain.ProbePending}
			if pr.known {
				v.Result = explain.ProbeDown
				if pr.up {
					v.Result = explain.ProbeUp
				}
			}
			if pr.rtt > 0 {
				v.RTTMillis = millis(pr.rtt)
			}
			out[k] = append(out[k], v)
		}
	}
	for _, probes := range out {
		slices.SortFunc(probes, func(a, b explain.Probe) int { return cmp.Compare(a.Target, b.Target) })
	}
	return out
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
