package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// resolverAnswer is what a fake resolver answers at one moment.
type resolverAnswer struct {
	addrs []string
	ttl   time.Duration
	err   error
}

// The client asks only once the answer it holds has expired, keeps its
// answer through a failed query, and tells a resolver's new answers from
// those it serves from its cache.
func TestTTLClient(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	whole := []string{"127.0.0.1", "127.0.0.2"}
	less := []string{"127.0.0.1"}
	steps := []struct {
		at time.Duration
		// answer is the resolver's, if the client asks.
		answer resolverAnswer
		asks   bool
		holds  []string
	}{
		{at: 0, answer: resolverAnswer{addrs: whole, ttl: 5 * time.Second}, asks: true, holds: whole},
		{at: 4900 * time.Millisecond, asks: false, holds: whole},
		// The resolver's last second of its cached answer: TTL 0.
		{at: 5 * time.Second, answer: resolverAnswer{addrs: whole, ttl: 0}, asks: true, holds: whole},
		{at: 5050 * time.Millisecond, answer: resolverAnswer{err: errors.New("timeout")}, asks: true, holds: whole},
		// A new answer from the server, without an address.
		{at: 5900 * time.Millisecond, answer: resolverAnswer{addrs: less, ttl: 5 * time.Second}, asks: true, holds: less},
		{at: 10 * time.Second, asks: false, holds: less},
		// From the cache, a little later than the last one's end.
		{at: 10900 * time.Millisecond, answer: resolverAnswer{addrs: less, ttl: 0}, asks: true, holds: less},
		{at: 11800 * time.Millisecond, answer: resolverAnswer{addrs: whole, ttl: 5 * time.Second}, asks: true, holds: whole},
	}
	var next resolverAnswer
	asked := 0
	c := &ttlClient{ask: func() ([]string, time.Duration, error) {
		asked++
		return next.addrs, next.ttl, next.err
	}}
	for _, s := range steps {
		next = s.answer
		before := asked
		c.refresh(t0.Add(s.at))
		if got := asked > before; got != s.asks {
			t.Errorf("at %s: asked %v, want %v", s.at, got, s.asks)
		}
		if !slices.Equal(c.addrs, s.holds) {
			t.Errorf("at %s: holds %v, want %v", s.at, c.addrs, s.holds)
		}
	}
	if c.asked != 6 || c.failed != 1 {
		t.Errorf("asked %d, failed %d; want 6 and 1", c.asked, c.failed)
	}
	if got, want := c.holds(), []time.Duration{5900 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("holds %v, want %v", got, want)
	}
}

func TestAnswerTTL(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		answer []dns.RR
		want   time.Duration
	}{
		{nil, 0},
		{[]dns.RR{rr("web.example. 5 IN A 127.0.0.1"), rr("web.example. 3 IN A 127.0.0.2")}, 3 * time.Second},
		// A CNAME's TTL is not the addresses'.
		{[]dns.RR{rr("www.example. 1 IN CNAME web.example."), rr("web.example. 30 IN AAAA ::1")}, 30 * time.Second},
	} {
		if got := answerTTL(&dns.Msg{Answer: tc.answer}); got != tc.want {
			t.Errorf("answerTTL(%v) = %s, want %s", tc.answer, got, tc.want)
		}
	}
}

func TestResolverTarget(t *testing.T) {
	r := &resolverResult{version: "1.17.1", ttl: 5 * time.Second, trials: 3,
		gone: []time.Duration{2 * time.Second, 5900 * time.Millisecond, 4 * time.Second}}
	got := r.target(3)
	if got.Name != report.ResolverFailover || !got.Met || got.Target != "<= 6s (TTL 5s + 1s)" || !strings.HasPrefix(got.Figure, "p95 5.9s of 3 trials") {
		t.Errorf("target = %+v", got)
	}
	r.gone = append(r.gone, 6100*time.Millisecond)
	if r.target(3).Met {
		t.Error("met with a p95 above TTL + 1s")
	}
	r.gone, r.failed = r.gone[:1], 1
	if got := r.target(3); got.Met || got.Note == "" {
		t.Errorf("a failed trial: %+v, want not met, with a note", got)
	}
}
