package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/bench/report"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// resolverCluster is the member whose load balancer goes down in the
// trials through a resolver: the same fault as the direct LB-down trials.
const resolverCluster = "eur"

// resolverResult is what the trials through a resolver measured.
type resolverResult struct {
	// version is unbound's, ttl the answer's TTL as coredns-fed gives it.
	version string
	ttl     time.Duration
	// gone runs from the fault to the client's first answer without the
	// address, back from the repair to its first answer with it again.
	gone, back []time.Duration
	// holds are how long unbound served each answer it got from
	// coredns-fed, as its client saw.
	holds []time.Duration
	// failed counts trials whose client never saw the answer change.
	failed int
	trials int
}

// resolverFailover runs the sample app's LB-down fault in resolverCluster
// again, seen this time by a client of a recursive resolver, Debian's
// unbound with its default cache: the client holds each answer for its TTL,
// and unbound holds coredns-fed's for the TTL too (give or take the second
// its clock counts in), so the client leaves the dead cluster up to about a
// TTL after coredns-fed does.
func (b *bench) resolverFailover(fed *server) (*resolverResult, error) {
	unbound, version, err := b.startUnbound(fed)
	if err != nil {
		return nil, err
	}
	defer unbound.stop()
	name := appQName()
	m, err := query(fed.addr, name, dns.TypeA)
	if err != nil {
		return nil, err
	}
	res := &resolverResult{version: version, ttl: answerTTL(m), trials: b.opts.trials}
	if res.ttl <= 0 {
		return nil, fmt.Errorf("coredns-fed answers %s without a TTL: no client would hold it", name)
	}
	dead := b.appAddr[resolverCluster].String()
	c := &ttlClient{ask: func() ([]string, time.Duration, error) {
		r, err := query(unbound.addr, name, dns.TypeA)
		if err != nil {
			return nil, 0, err
		}
		if r.Rcode != dns.RcodeSuccess {
			return nil, 0, fmt.Errorf("unbound answered %s", dns.RcodeToString[r.Rcode])
		}
		return framework.Addresses(r), answerTTL(r), nil
	}}
	whole := func(addrs []string) bool { return len(addrs) == len(b.lab.Clusters) }
	without := func(addrs []string) bool { return !slices.Contains(addrs, dead) }
	// The direct trials' 30 s, and a TTL for the resolver's copy.
	limit := res.ttl + 30*time.Second
	begin := time.Now()
	for trial := range b.opts.trials {
		// Every trial starts from a client that holds the whole answer.
		if _, ok := c.follow(time.Now(), limit, whole); !ok {
			return nil, fmt.Errorf("trial %d: the client's answer through unbound lacks an address before the fault: %v", trial+1, c.addrs)
		}
		// A random part of a TTL, so that trials sample every age of the
		// answers the client and unbound hold.
		c.follow(time.Now(), rand.N(res.ttl), func([]string) bool { return false })
		start := time.Now()
		if err := b.lab.SetLoadBalancerDown(b.appAddr[resolverCluster], true); err != nil {
			return nil, err
		}
		gone, ok := c.follow(start, limit, without)
		if ok {
			res.gone = append(res.gone, gone)
		} else {
			res.failed++
		}
		start = time.Now()
		if err := b.lab.SetLoadBalancerDown(b.appAddr[resolverCluster], false); err != nil {
			return nil, err
		}
		back, ok := c.follow(start, limit, func(addrs []string) bool { return !without(addrs) })
		if ok {
			res.back = append(res.back, back)
		} else {
			res.failed++
		}
		progress("%s load-balancer address down, through unbound, trial %d: the client left after %s, came back after %s",
			resolverCluster, trial+1, gone.Round(time.Millisecond), back.Round(time.Millisecond))
	}
	res.holds = c.holds()
	progress("through unbound: %d trials in %s, %d queries from the client, %d unanswered", b.opts.trials, time.Since(begin).Round(time.Second), c.asked, c.failed)
	return res, nil
}

// startUnbound runs unbound on loopback as a resolver whose only way to
// the federation's zone is coredns-fed, and returns it and its version.
// The root's stub is coredns-fed too, so that nothing it asks leaves the
// machine.
func (b *bench) startUnbound(fed *server) (*server, string, error) {
	bin, err := framework.UnboundPath()
	if err != nil {
		return nil, "", err
	}
	out, err := exec.Command(bin, "-V").Output()
	if err != nil {
		return nil, "", fmt.Errorf("%s -V: %w", bin, err)
	}
	version, _, _ := strings.Cut(strings.TrimPrefix(string(out), "Version "), "\n")
	ports, err := freePorts(1)
	if err != nil {
		return nil, "", err
	}
	dir := filepath.Join(b.dir, "unbound")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	conf, err := framework.UnboundConfig(dir, ports[0], []framework.Stub{
		{Zone: domain, Addrs: []string{fed.addr}},
		{Zone: ".", Addrs: []string{fed.addr}},
	}, framework.UnboundOptions{})
	if err != nil {
		return nil, "", err
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, "", err
	}
	// -d keeps it in the foreground, -p writes no pid file. Not on the
	// servers' core, which is coredns-fed's alone.
	s, err := b.startAnywhere("resolver", "unbound", []string{bin, "-d", "-p", "-c", path}, ports[0])
	if err != nil {
		return nil, "", err
	}
	// Ready once it resolves the zone's SOA, through coredns-fed.
	if err := s.waitReady(30 * time.Second); err != nil {
		s.stop()
		return nil, "", err
	}
	return s, version, nil
}

// ttlClient is a client of a resolver that behaves as a stub resolver with
// a cache does: it uses the addresses of its last answer until their TTL
// runs out, and only then asks again.
type ttlClient struct {
	ask func() (addrs []string, ttl time.Duration, err error)
	// addrs is the answer the client holds, until expires.
	addrs   []string
	held    bool
	expires time.Time
	// renewed lists when the resolver's answer was new, not one from its
	// cache: an answer that a resolver serves from its cache ends, now +
	// TTL, within the second its clock rounds to of the answer before it;
	// a new one a TTL later.
	renewed []time.Time
	// asked counts the queries sent, failed those that got no answer.
	asked, failed int
}

// refresh brings the client to now: once its answer has expired, it asks
// again. A failed query leaves it with its last answer until the next one.
func (c *ttlClient) refresh(now time.Time) {
	if c.held && now.Before(c.expires) {
		return
	}
	c.asked++
	addrs, ttl, err := c.ask()
	if err != nil {
		c.failed++
		return
	}
	expires := now.Add(ttl)
	if c.held && expires.Sub(c.expires) >= time.Second {
		c.renewed = append(c.renewed, now)
	}
	c.addrs, c.held, c.expires = addrs, true, expires
}

// holds returns how long the resolver served each of its answers: the
// times between the renewals the client saw.
func (c *ttlClient) holds() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(c.renewed); i++ {
		out = append(out, c.renewed[i].Sub(c.renewed[i-1]))
	}
	return out
}

// follow refreshes the client every 50 ms until the answer it holds
// satisfies cond, and returns the time from start to then. It gives up, and
// returns false, once timeout has passed since start.
func (c *ttlClient) follow(start time.Time, timeout time.Duration, cond func([]string) bool) (time.Duration, bool) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c.refresh(time.Now())
		took := time.Since(start)
		if c.held && cond(c.addrs) {
			return took, true
		}
		if took >= timeout {
			return took, false
		}
		<-tick.C
	}
}

// answerTTL returns the least TTL of the addresses in r's answer: how long
// a client may use them. An answer without one may not be kept at all.
func answerTTL(r *dns.Msg) time.Duration {
	ttl := -1
	for _, rr := range r.Answer {
		if t := rr.Header().Rrtype; t == dns.TypeA || t == dns.TypeAAAA {
			if ttl < 0 || int(rr.Header().Ttl) < ttl {
				ttl = int(rr.Header().Ttl)
			}
		}
	}
	return time.Duration(max(ttl, 0)) * time.Second
}

// target returns the figure of issue 16's bound on leaving a dead cluster
// through a resolver: the p95 of the trials, within the TTL and a second.
func (r *resolverResult) target(clusters int) report.Target {
	p95 := percentile(r.gone, 95)
	bound := r.ttl + time.Second
	t := report.Target{
		Name:   report.ResolverFailover,
		Case:   fmt.Sprintf("%s load-balancer address down, unbound %s, %d clusters", resolverCluster, r.version, clusters),
		Figure: fmt.Sprintf("p95 %s of %d trials (p50 %s)", ms(p95), len(r.gone), ms(percentile(r.gone, 50))),
		Target: fmt.Sprintf("<= %s (TTL %s + 1s)", bound, r.ttl),
		Met:    r.failed == 0 && len(r.gone) > 0 && p95 <= bound,
	}
	if r.failed > 0 {
		t.Note = fmt.Sprintf("%d trials did not see the client's answer change in time", r.failed)
	}
	return t
}

func (r *resolverResult) print() {
	fmt.Printf("\nFailover through a resolver: unbound %s on loopback, with its default cache, resolving the\n", r.version)
	fmt.Printf("federation's zone from coredns-fed alone; coredns-fed answers with TTL %s. A client holds each answer\n", r.ttl)
	fmt.Printf("for its TTL, then asks unbound again (it looks every 50 ms); %d trials, each from a random age of the answers.\n", r.trials)
	fmt.Printf("GONE: from the fault to the client's first answer without the address. BACK: from the repair to its first with it.\n\n")
	bound := r.ttl + time.Second
	verdict := "met"
	if r.failed > 0 || len(r.gone) == 0 || percentile(r.gone, 95) > bound {
		verdict = "NOT met"
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "FAULT\tGONE p50\tGONE p95\tGONE max\tTARGET (TTL + 1s)\tBACK p50\tBACK p95\tFAILED")
	fmt.Fprintf(w, "%s load-balancer address down\t%s\t%s\t%s\t<= %s %s\t%s\t%s\t%d\n", resolverCluster,
		ms(percentile(r.gone, 50)), ms(percentile(r.gone, 95)), ms(percentile(r.gone, 100)), bound, verdict,
		ms(percentile(r.back, 50)), ms(percentile(r.back, 95)), r.failed)
	w.Flush()
	if len(r.holds) > 0 {
		fmt.Printf("\nunbound served each answer from its cache for up to %s (p50 %s, %d answers) before it asked coredns-fed again:\n",
			ms(slices.Max(r.holds)), ms(percentile(r.holds, 50)), len(r.holds))
		fmt.Printf("its clock counts whole seconds, and it serves an answer through the second its TTL ends, with TTL 0.\n")
		fmt.Printf("A client may so hold a dead address up to TTL + 1s after coredns-fed drops it (the direct trials above).\n")
	}
}
