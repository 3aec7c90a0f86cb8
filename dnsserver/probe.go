package dnsserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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

// probeTarget says how to probe one entry point. It is comparable, and is
// the key of the probe's state: a target that changes is a new probe.
type probeTarget struct {
	Cluster string
	Type    string
	// Host is an address or a host name.
	Host string
	Port uint16
	// Path is the HTTP(S) request path.
	Path string
}

func (t probeTarget) String() string {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
	if t.Type == probeTCP {
		return "tcp://" + addr
	}
	return t.Type + "://" + addr + t.Path
}

// prober probes entry points: each target on its own schedule, at most
// concurrency of them at a time, with hysteresis. It tells onChange when a
// target goes up or down, or gets its first result.
type prober struct {
	server             string
	interval, timeout  time.Duration
	unhealthyThreshold int
	healthyThreshold   int
	sem                chan struct{}
	onChange           func()
	client             *http.Client
	dialer             net.Dialer

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	probes map[probeTarget]*probe
}

// probe is the state of one target. up and known are read by rebuilds;
// the counters belong to the probe's goroutine.
type probe struct {
	target probeTarget
	cancel context.CancelFunc

	up, known           atomic.Bool
	failures, successes int
	// rtt is the moving average of successful probes' durations, in
	// nanoseconds; 0 before the first.
	rtt atomic.Int64
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
		unhealthyThreshold: opts.UnhealthyThreshold,
		healthyThreshold:   opts.HealthyThreshold,
		sem:                make(chan struct{}, opts.ProbeConcurrency),
		onChange:           onChange,
		ctx:                ctx,
		cancel:             cancel,
		probes:             map[probeTarget]*probe{},
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
	return p
}

// Sync makes the set of probed targets targets: it starts the new ones,
// probing each at once, and stops the ones gone.
func (p *prober) Sync(targets map[probeTarget]struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t, pr := range p.probes {
		if _, ok := targets[t]; !ok {
			pr.cancel()
			delete(p.probes, t)
		}
	}
	if p.ctx.Err() != nil {
		return
	}
	for t := range targets {
		if _, ok := p.probes[t]; ok {
			continue
		}
		ctx, cancel := context.WithCancel(p.ctx)
		pr := &probe{target: t, cancel: cancel}
		p.probes[t] = pr
		p.wg.Add(1)
		go p.run(ctx, pr)
	}
}

// Status returns whether a target is up, and whether it has been probed at
// all; a target never probed is not up.
func (p *prober) Status(t probeTarget) (up, known bool) {
	p.mu.Lock()
	pr := p.probes[t]
	p.mu.Unlock()
	if pr == nil {
		return false, false
	}
	known = pr.known.Load()
	return known && pr.up.Load(), known
}

// RTTs returns the round-trip time to each member: the least, over its
// entry points that are up, of the moving average of their probes'
// durations.
func (p *prober) RTTs() map[string]time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]time.Duration{}
	for t, pr := range p.probes {
		rtt := time.Duration(pr.rtt.Load())
		if rtt == 0 || !pr.up.Load() {
			continue
		}
		if old, ok := out[t.Cluster]; !ok || rtt < old {
			out[t.Cluster] = rtt
		}
	}
	return out
}

// Stop stops every probe and waits for them.
func (p *prober) Stop() {
	p.cancel()
	p.wg.Wait()
}

func (p *prober) run(ctx context.Context, pr *probe) {
	defer p.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		start := time.Now()
		err := p.check(ctx, pr.target)
		<-p.sem
		if ctx.Err() != nil {
			// Stopped mid-probe: the failure is ours, not the target's.
			return
		}
		took := time.Since(start)
		probeDuration.WithLabelValues(p.server, pr.target.Cluster, pr.target.Type).Observe(took.Seconds())
		if err != nil {
			probeFailures.WithLabelValues(p.server, pr.target.Cluster, pr.target.Type).Inc()
		} else if old := pr.rtt.Load(); old == 0 {
			pr.rtt.Store(max(1, int64(took)))
		} else {
			pr.rtt.Store(max(1, old+int64(rttWeight*float64(int64(took)-old))))
		}
		if p.record(pr, err) {
			p.onChange()
		}
		// The schedule runs from each probe's start, so that a slow
		// failure does not stretch the time to detect it.
		timer.Reset(time.Until(start.Add(p.jittered())))
	}
}

// record counts a result and reports whether the target's state changed.
// The first result counts at once; later ones need unhealthyThreshold
// failures in a row to take a target down and healthyThreshold successes
// to bring it back.
func (p *prober) record(pr *probe, err error) bool {
	ok := err == nil
	if !pr.known.Load() {
		pr.up.Store(ok)
		pr.known.Store(true)
		if !ok {
			log.Debugf("Entry point %s of cluster %s is down: %v", pr.target, pr.target.Cluster, err)
		}
		return true
	}
	if ok {
		pr.failures = 0
		pr.successes++
		if !pr.up.Load() && pr.successes >= p.healthyThreshold {
			pr.up.Store(true)
			log.Infof("Entry point %s of cluster %s is up", pr.target, pr.target.Cluster)
			return true
		}
		return false
	}
	pr.successes = 0
	pr.failures++
	if pr.up.Load() && pr.failures >= p.unhealthyThreshold {
		pr.up.Store(false)
		log.Infof("Entry point %s of cluster %s is down: %v", pr.target, pr.target.Cluster, err)
		return true
	}
	return false
}

func (p *prober) jittered() time.Duration {
	f := 1 + probeJitter*(2*rand.Float64()-1)
	return time.Duration(float64(p.interval) * f)
}

// check probes a target once.
func (p *prober) check(ctx context.Context, t probeTarget) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	addr := net.JoinHostPort(t.Host, strconv.Itoa(int(t.Port)))
	if t.Type == probeTCP {
		conn, err := p.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Type+"://"+addr+t.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "coredns-fed")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return nil
}
