package conform

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// fuzzSeeds are queries of every kind conform handles.
func fuzzSeeds(f *testing.F) {
	for _, m := range []*dns.Msg{
		query("a.example.", false, 0),
		query("a.example.", true, 0xffff, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}),
		query("a.example.", true, 0, ecs(1, 24, "192.0.2.1")),
		query("a.example.", true, 0, ecs(2, 56, "2001:db8::")),
	} {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzServeDNS sends any query that parses through conform in front of a
// plugin that echoes the query's OPT. No input may panic, and every reply
// must pack and keep RFC 6891: one OPT of version 0 with only the DO flag
// and implemented options when the query had one, none when it had none.
func FuzzServeDNS(f *testing.F) {
	fuzzSeeds(f)
	c := &Conform{Next: echo}
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(wire); err != nil || len(req.Question) == 0 {
			// The server answers these before any plugin.
			return
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := c.ServeDNS(context.Background(), rec, req); err != nil {
			t.Fatal(err)
		}
		m := rec.Msg
		if m == nil {
			t.Fatalf("no reply to %v", req)
		}
		if _, err := m.Pack(); err != nil {
			t.Fatalf("reply does not pack: %v\n%v", err, m)
		}
		n := 0
		for _, rr := range m.Extra {
			if rr.Header().Rrtype == dns.TypeOPT {
				n++
			}
		}
		q := req.IsEdns0()
		if (q == nil && n != 0) || (q != nil && n != 1) {
			t.Fatalf("%d OPT records in the reply to a query with OPT %v", n, q)
		}
		if o := m.IsEdns0(); o != nil {
			if o.Version() != 0 || uint16(o.Hdr.Ttl)&0x7FFF != 0 || o.Do() != q.Do() {
				t.Fatalf("reply OPT %v to query OPT %v", o, q)
			}
			for _, e := range o.Option {
				if c, ok := e.(*dns.EDNS0_COOKIE); ok && len(c.Cookie) == 2*(clientCookieLen+serverCookieLen) {
					continue
				}
				if !implemented[e.Option()] {
					t.Fatalf("option %d echoed", e.Option())
				}
			}
		}
	})
}

// FuzzRepair gives any bytes to what reads raw queries and repairs raw
// replies. No input may panic, and a repaired reply must parse.
func FuzzRepair(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, ok := scanQuery(b); ok {
			invalid.add(q)
		}
		out, ok := repair(b)
		if !ok {
			return
		}
		if err := new(dns.Msg).Unpack(out); err != nil {
			t.Fatalf("repaired reply does not parse: %v", err)
		}
	})
}
