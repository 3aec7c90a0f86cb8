//go:build e2e

package delegation_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// load sends a steady stream of queries for the app's name to some
// servers, one in three over TCP, and counts what went wrong.
type load struct {
	// servers are the addresses asked in turn, ADDRESS:PORT.
	servers []string
	// want are the addresses every answer must hold, and ttls the TTLs it
	// may have.
	want []string
	ttls []uint32

	sent, servfail, timeouts, failed, wrong, resets atomic.Int64
	firstProblem                                    atomic.Pointer[string]

	stopLoad context.CancelFunc
	wg       sync.WaitGroup
}

// startLoad starts sending rate queries a second to servers, spread over
// them, until stop.
func startLoad(servers, want []string, ttls []uint32, rate int) *load {
	l := &load{servers: servers, want: want, ttls: ttls}
	ctx, cancel := context.WithCancel(context.Background())
	l.stopLoad = cancel
	l.wg.Go(func() {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			proto := "udp"
			if i%3 == 0 {
				proto = "tcp"
			}
			server := servers[i%len(servers)]
			l.sent.Add(1)
			l.wg.Go(func() { l.query(server, proto) })
		}
	})
	return l
}

// query asks server once and counts the outcome. A TCP connection that a
// stopping CoreDNS instance accepted but had not read from is reset
// (miekg/dns's Server.ShutdownContext closes it): that is the server's,
// not the fed plugin's, and a client asks again at once, so the load does
// too and counts it.
func (l *load) query(server, proto string) {
	r, err := ask(server, proto, appFQDN, dns.TypeA)
	if proto == "tcp" && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) {
		l.resets.Add(1)
		r, err = ask(server, proto, appFQDN, dns.TypeA)
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		l.timeouts.Add(1)
		l.problem("%s over %s: %v", server, proto, err)
	case err != nil:
		l.failed.Add(1)
		l.problem("%s over %s: %v", server, proto, err)
	case r.Rcode == dns.RcodeServerFailure:
		l.servfail.Add(1)
		l.problem("%s over %s: SERVFAIL", server, proto)
	case r.Rcode != dns.RcodeSuccess || !slices.Equal(framework.Addresses(r), l.want):
		l.wrong.Add(1)
		l.problem("%s over %s: %s %v, want %v", server, proto, dns.RcodeToString[r.Rcode], framework.Addresses(r), l.want)
	default:
		for _, rr := range r.Answer {
			if !slices.Contains(l.ttls, rr.Header().Ttl) {
				l.wrong.Add(1)
				l.problem("%s over %s: TTL %d, want one of %v", server, proto, rr.Header().Ttl, l.ttls)
				return
			}
		}
	}
}

func (l *load) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.firstProblem.CompareAndSwap(nil, &msg)
}

// stop stops the load and waits for the answers of the queries sent.
func (l *load) stop() {
	l.stopLoad()
	l.wg.Wait()
}

// lost is the number of queries that got no answer, SERVFAIL, or another
// answer than the one wanted.
func (l *load) lost() int64 {
	return l.servfail.Load() + l.timeouts.Load() + l.failed.Load() + l.wrong.Load()
}

// String sums up the load's outcome.
func (l *load) String() string {
	return fmt.Sprintf("%d queries, one in three over TCP: %d SERVFAIL, %d timed out, %d failed, %d other answers; %d TCP connections reset by a stopping instance, answered when asked again",
		l.sent.Load(), l.servfail.Load(), l.timeouts.Load(), l.failed.Load(), l.wrong.Load(), l.resets.Load())
}
