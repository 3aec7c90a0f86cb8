package main

import (
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// latency is what the Go client measured of one server.
type latency struct {
	qps           float64
	p50, p95, p99 time.Duration
	lost          int
}

// goLatency asks addr for names round robin from clients goroutines, each
// with one query in flight on its own socket, for d, and times every
// answer. With do or opts, every query carries EDNS0, with the DO bit
// when do is set and with those options.
func goLatency(addr string, names []string, clients int, d time.Duration, do bool, opts ...dns.EDNS0) (latency, error) {
	wire := make([][]byte, len(names))
	for i, name := range names {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		if do || len(opts) > 0 {
			m.SetEdns0(1232, do)
			m.IsEdns0().Option = append(m.IsEdns0().Option, opts...)
		}
		var err error
		if wire[i], err = m.Pack(); err != nil {
			return latency{}, err
		}
	}
	type result struct {
		took []time.Duration
		lost int
		err  error
	}
	results := make([]result, clients)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := &results[c]
			conn, err := net.Dial("udp", addr)
			if err != nil {
				r.err = err
				return
			}
			defer conn.Close()
			buf := make([]byte, 1232)
			q := make([]byte, 0, 512)
			for i := c; time.Now().Before(deadline); i++ {
				q = append(q[:0], wire[i%len(wire)]...)
				id := uint16(i)
				q[0], q[1] = byte(id>>8), byte(id)
				start := time.Now()
				if _, err := conn.Write(q); err != nil {
					r.err = err
					return
				}
				_ = conn.SetReadDeadline(start.Add(time.Second))
				for {
					n, err := conn.Read(buf)
					if err != nil {
						r.lost++
						break
					}
					// A late answer to an earlier query is not this one's.
					if n >= 2 && buf[0] == q[0] && buf[1] == q[1] {
						r.took = append(r.took, time.Since(start))
						break
					}
				}
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	var out latency
	for _, r := range results {
		if r.err != nil {
			return latency{}, r.err
		}
		all = append(all, r.took...)
		out.lost += r.lost
	}
	out.qps = float64(len(all)) / d.Seconds()
	out.p50, out.p95, out.p99 = percentile(all, 50), percentile(all, 95), percentile(all, 99)
	return out, nil
}
