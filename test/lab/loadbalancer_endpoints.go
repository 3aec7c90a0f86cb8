package lab

// What the load balancer serves for a Service: its ports, and the ready
// endpoints behind them. Endpoints on real nodes are forwarded to; kwok's
// fakes have no process behind their addresses, so a Service whose ready
// endpoints are all fakes gets the load balancer's own HTTP answer.

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// lbPort is one port of a load-balancer address.
type lbPort struct {
	protocol v1.Protocol
	port     int32
}

func (p lbPort) String() string { return fmt.Sprintf("%d/%s", p.port, p.protocol) }

// servicePort is a Service port the load balancer may listen on. Its name
// matches it to the ports of the Service's EndpointSlices, where the
// endpoints controller has resolved the targetPort.
type servicePort struct {
	lbPort
	name string
}

// servicePorts returns the TCP and UDP ports of svc; an unset protocol means
// TCP. SCTP ports are not served.
func servicePorts(svc *v1.Service) []servicePort {
	var ports []servicePort
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		if proto != v1.ProtocolTCP && proto != v1.ProtocolUDP {
			continue
		}
		ports = append(ports, servicePort{lbPort: lbPort{protocol: proto, port: p.Port}, name: p.Name})
	}
	return ports
}

// readyEndpoints sums up the ready endpoints of one Service.
type readyEndpoints struct {
	// any is whether the Service has a ready endpoint at all.
	any bool
	// pods are the sorted names of the pods behind the ready endpoints.
	pods []string
	// real is whether a ready endpoint is on a real node; then the load
	// balancer forwards rather than answers.
	real bool
	// targets holds, per Service port, the sorted addresses of the ready
	// endpoints on real nodes at the port their slice gives.
	targets map[lbPort][]netip.AddrPort
}

// summarizeEndpoints reads the EndpointSlices of a Service with the given
// ports. realNodes names the nodes whose pods run for real.
func summarizeEndpoints(list []*discoveryv1.EndpointSlice, ports []servicePort, realNodes map[string]bool) readyEndpoints {
	r := readyEndpoints{targets: map[lbPort][]netip.AddrPort{}}
	for _, slice := range list {
		for _, ep := range slice.Endpoints {
			// An unset condition means ready, as the EndpointSlice API
			// says. A terminating pod is not ready (though it may still
			// be serving): it gets no new connections.
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			r.any = true
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				r.pods = append(r.pods, ep.TargetRef.Name)
			}
			if ep.NodeName == nil || !realNodes[*ep.NodeName] || len(ep.Addresses) == 0 {
				continue
			}
			// Consumers use the first address, the API says.
			addr, err := netip.ParseAddr(ep.Addresses[0])
			if err != nil {
				continue
			}
			r.real = true
			for _, sp := range ports {
				if port, ok := slicePort(slice, sp); ok {
					r.targets[sp.lbPort] = append(r.targets[sp.lbPort], netip.AddrPortFrom(addr, port))
				}
			}
		}
	}
	slices.Sort(r.pods)
	r.pods = slices.Compact(r.pods)
	for port, addrs := range r.targets {
		slices.SortFunc(addrs, func(a, b netip.AddrPort) int { return a.Compare(b) })
		r.targets[port] = slices.Compact(addrs)
	}
	return r
}

// slicePort returns the port number that slice gives for the Service port
// sp: the one with the same name and protocol.
func slicePort(slice *discoveryv1.EndpointSlice, sp servicePort) (uint16, bool) {
	for _, p := range slice.Ports {
		name, proto := "", v1.ProtocolTCP
		if p.Name != nil {
			name = *p.Name
		}
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.name && proto == sp.protocol && p.Port != nil && *p.Port > 0 && *p.Port < 1<<16 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// lbTargets is the set of endpoint addresses one forwarded port sends new
// connections and sessions to, in turn. The load balancer replaces the set
// as endpoints come and go; the forwarders read it for every new
// connection, so an endpoint that stops being ready gets none from then on.
type lbTargets struct {
	mu    sync.Mutex
	addrs []netip.AddrPort
	next  int
}

// set replaces the addresses.
func (t *lbTargets) set(addrs []netip.AddrPort) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.addrs = slices.Clone(addrs)
}

// pick returns the next address in turn that is not in tried, and false
// when every address has been tried (or there is none).
func (t *lbTargets) pick(tried []netip.AddrPort) (netip.AddrPort, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for range t.addrs {
		a := t.addrs[t.next%len(t.addrs)]
		t.next = (t.next + 1) % len(t.addrs)
		if !slices.Contains(tried, a) {
			return a, true
		}
	}
	return netip.AddrPort{}, false
}

// has reports whether a is one of the addresses.
func (t *lbTargets) has(a netip.AddrPort) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Contains(t.addrs, a)
}
