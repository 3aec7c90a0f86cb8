package dnsserver

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The probe types, also the type label of the probe metrics.
const (
	probeTCP   = "tcp"
	probeHTTP  = "http"
	probeHTTPS = "https"
)

// probeJitter spreads each probe's interval by up to this fraction either
// way, so that probes started together do not stay in step.
const probeJitter = 0.1

// probeEndpoint says how to probe one entry point. It is comparable, and
// is the key of the probe's state: an endpoint that changes is a new
// probe. Members and Services that share an endpoint share its probe.
type probeEndpoint struct {
	Type string
	// Host is an address or a host name.
	Host string
	Port uint16
	// Path is the HTTP(S) request path.
	Path string
}

// probeTarget is an endpoint as one member uses it: the prober counts its
// users by member, for the members' round trips and the metrics.
type probeTarget struct {
	Cluster string
	probeEndpoint
}

func (e probeEndpoint) String() string {
	addr := net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
	if e.Type == probeTCP {
		return "tcp://" + addr
	}
	return e.Type + "://" + addr + e.Path
}

// prober probes endpoints with a fixed pool of workers, each endpoint once
// per interval however many Services and members use it, with hysteresis.
// The interval stretches when there are more endpoints than the probe rate
// allows in one interval, and a result that contradicts an endpoint's
// state is confirmed a tenth of an interval later, not a whole one. It tells
// onChange when an endpoint goes up or down, or gets its first result;
// Changed says which.
type prober struct {
	server             string
	interval, timeout  time.Duration
	rate               int
	unhealthyThreshold int
	healthyThreshold   int
	workers            int
	onChange           func()
	client             *http.Client
	dialer             net.Dialer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// kick wakes the scheduler when a probe may be due sooner.
	kick chan struct{}

	mu     sync.Mutex
	probes map[probeEndpoint]*probe
	queue  probeQueue
	// changed are the endpoints whose state changed since Changed.
	changed map[probeEndpoint]struct{}
}

// probe is the state of one endpoint, under the prober's lock.
type probe struct {
	endpoint probeEndpoint
	// users counts the Services of each member that use the endpoint;
	// label is the member the metrics name.
	users map[string]int
	label string
	// next is when the probe is due; index is its place in the queue, -1
	// while it runs or once it is removed.
	next    time.Time
	index   int
	removed bool

	up, known           bool
	failures, successes int
	// rtt is the moving average of successful probes' durations; 0
	// before the first.
	rtt time.Duration
}

// rttWeight is the weight of a new probe in the moving average of round
// trips: a change shows within a few probes, a single slow one does not
// turn the order over.
const rttWeight = 0.3

func newProber(server string, opts WatchOptions, onChange func()) *prober {
	ctx, cancel := context.WithCancel(context.Background())
	p := &prober{
		server:             server,
		interval:           opts.ProbeInterval,
		timeout:            opts.ProbeTimeout,
		rate:               opts.ProbeRate,
		unhealthyThreshold: opts.UnhealthyThreshold,
		healthyThreshold:   opts.HealthyThreshold,
		workers:            opts.ProbeConcurrency,
		onChange:           onChange,
		ctx:                ctx,
		cancel:             cancel,
		kick:               make(chan struct{}, 1),
		probes:             map[probeEndpoint]*probe{},
		changed:            map[probeEndpoint]struct{}{},
	}
	if opts.ProbeSource.IsValid() {
		p.dialer.LocalAddr = &net.TCPAddr{IP: opts.ProbeSource.AsSlice()}
	}
	p.client = &http.Client{
		Transport: &http.Transport{
			// Each probe opens its own connection: a kept-alive one
			// would hide a listener that no longer accepts. No proxy
			// from the environment either: probes go where answers
			// send clients.
			DisableKeepAlives: true,
			DialContext:       p.dialer.DialContext,
			// A health check asks whether the entry point answers, not
			// who it is; certificates rarely name load-balancer
			// addresses.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see above
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	p.start()
	return p
}

// Add counts one more user of a target, and starts probing its endpoint,
// at once, if it is new.
func (p *prober) Add(t probeTarget) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.probes[t.probeEndpoint]
	if pr == nil {
		pr = &probe{endpoint: t.probeEndpoint, users: map[string]int{}, label: t.Cluster, next: time.Now(), index: -1}
		p.probes[t.probeEndpoint] = pr
		p.queue.push(pr)
		if p.queue[0] == pr {
			p.wake()
		}
	}
	pr.users[t.Cluster]++
}

// Remove counts one user of a target less, and forgets its endpoint when
// nothing uses it any more.
func (p *prober) Remove(t probeTarget) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.probes[t.probeEndpoint]
	if pr == nil {
		return
	}
	if pr.users[t.Cluster]--; pr.users[t.Cluster] <= 0 {
		delete(pr.users, t.Cluster)
	}
	if len(pr.users) > 0 {
		if pr.users[pr.label] == 0 {
			for c := range pr.users {
				pr.label = c
				break
			}
		}
		return
	}
	pr.removed = true
	p.queue.remove(pr)
	delete(p.probes, t.probeEndpoint)
	delete(p.changed, t.probeEndpoint)
}

// Status returns whether a target is up, and whether it has been probed at
// all; a target never probed is not up.
func (p *prober) Status(t probeTarget) (up, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.probes[t.probeEndpoint]
	if pr == nil {
		return false, false
	}
	return pr.known && pr.up, pr.known
}

// Changed returns the targets whose endpoints changed state since the last
// call, one per member that uses each.
func (p *prober) Changed() []probeTarget {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []probeTarget
	for e := range p.changed {
		for c := range p.probes[e].users {
			out = append(out, probeTarget{Cluster: c, probeEndpoint: e})
		}
	}
	clear(p.changed)
	return out
}

// Pending returns the number of endpoints not yet probed once.
func (p *prober) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, pr := range p.probes {
		if !pr.known {
			n++
		}
	}
	return n
}

// RTTs returns the round-trip time to each member: the least, over the
// endpoints it uses that are up, of the moving average of their probes'
// durations.
func (p *prober) RTTs() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Duration{}
	for _, pr := range p.probes {
		if pr.rtt == 0 || !pr.up {
			continue
		}
		for c := range pr.users {
			if old, ok := out[c]; !ok || pr.rtt < old {
				out[c] = pr.rtt
			}
		}
	}
	return out
}

// Stop stops every probe and waits for them.
func (p *prober) Stop() {
	p.cancel()
	p.wg.Wait()
}

// recordLocked counts a result and reports whether the endpoint's state
// changed. The first result counts at once; later ones need
// unhealthyThreshold failures in a row to take an endpoint down and
// healthyThreshold successes to bring it back.
func (p *prober) recordLocked(pr *probe, err error, took time.Duration) bool {
	ok := err == nil
	if ok {
		if pr.rtt == 0 {
			pr.rtt = max(1, took)
		} else {
			pr.rtt = max(1, pr.rtt+time.Duration(rttWeight*float64(took-pr.rtt)))
		}
	}
	if !pr.known {
		pr.up, pr.known = ok, true
		if !ok {
			log.Debugf("Entry point %s of cluster %s is down: %v", pr.endpoint, pr.label, err)
		}
		return true
	}
	if ok {
		pr.failures = 0
		pr.successes++
		if !pr.up && pr.successes >= p.healthyThreshold {
			pr.up = true
			log.Infof("Entry point %s of cluster %s is up", pr.endpoint, pr.label)
			return true
		}
		return false
	}
	pr.successes = 0
	pr.failures++
	if pr.up && pr.failures >= p.unhealthyThreshold {
		pr.up = false
		log.Infof("Entry point %s of cluster %s is down: %v", pr.endpoint, pr.label, err)
		return true
	}
	return false
}
