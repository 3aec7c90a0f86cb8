//go:build e2e

package pods_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// queryTimeout is how long one query of a stream may take. No query is
// retried: a query that gets no answer in time is lost.
const queryTimeout = 2 * time.Second

// askSOA asks the load balancer for the zone's SOA once over proto and
// returns an error unless it answers NOERROR with the SOA.
func askSOA(proto string) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(domain), dns.TypeSOA)
	c := &dns.Client{Net: proto, Timeout: queryTimeout}
	r, _, err := c.Exchange(m, net.JoinHostPort(server.String(), "53"))
	if err != nil {
		return fmt.Errorf("%s: %w", proto, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("%s: rcode %s", proto, dns.RcodeToString[r.Rcode])
	}
	if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeSOA {
		return fmt.Errorf("%s: %d answers, want the SOA", proto, len(r.Answer))
	}
	return nil
}

// stream asks the load balancer for the SOA, over UDP and TCP by turns, every
// interval, each query on a socket of its own, as clients behind a resolver
// do, until stopped.
type stream struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}

	mu       sync.Mutex
	sent     map[string]int
	failures []string
}

func startStream(interval time.Duration) *stream {
	s := &stream{stop: make(chan struct{}), done: make(chan struct{}), sent: map[string]int{}}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			proto := []string{"udp", "tcp"}[i%2]
			err := askSOA(proto)
			s.mu.Lock()
			s.sent[proto]++
			if err != nil {
				s.failures = append(s.failures, time.Now().Format("15:04:05.000")+" "+err.Error())
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// finish stops the stream and fails t if any query failed, or if fewer
// than min queries went out over either protocol.
func (s *stream) finish(t *testing.T, min int) {
	t.Helper()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("queries: %d over UDP, %d over TCP, %d failed", s.sent["udp"], s.sent["tcp"], len(s.failures))
	if len(s.failures) > 0 {
		t.Errorf("%d of %d queries failed (lost, or not NOERROR):\n%s",
			len(s.failures), s.sent["udp"]+s.sent["tcp"], strings.Join(s.failures, "\n"))
	}
	for _, proto := range []string{"udp", "tcp"} {
		if s.sent[proto] < min {
			t.Errorf("only %d queries over %s, want at least %d: the drill proves nothing", s.sent[proto], proto, min)
		}
	}
}
