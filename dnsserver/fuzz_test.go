package dnsserver

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// FuzzServeDNS sends any query, as it comes off the wire, through the
// handler over the test index. No input may panic, and every reply must
// pack, answer the question asked, and be authoritative unless refused.
func FuzzServeDNS(f *testing.F) {
	for _, tc := range handlerCases {
		m := tc.Msg()
		if buf, err := m.Pack(); err == nil {
			f.Add(buf)
		}
	}
	fed := testFed()
	fed.Next = test.NextHandler(dns.RcodeRefused, nil)
	f.Fuzz(func(t *testing.T, wire []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(wire); err != nil || len(req.Question) != 1 {
			// The server drops these before any plugin sees them.
			return
		}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		rcode, _ := fed.ServeDNS(context.Background(), rec, req)
		if rec.Msg == nil {
			if rcode == dns.RcodeSuccess {
				t.Fatalf("success without a reply to %v", req.Question[0])
			}
			return
		}
		if _, err := rec.Msg.Pack(); err != nil {
			t.Fatalf("reply to %v does not pack: %v\n%v", req.Question[0], err, rec.Msg)
		}
		refused := rec.Msg.Rcode == dns.RcodeRefused || rec.Msg.Rcode == dns.RcodeNotImplemented
		if rec.Msg.Authoritative == refused || rec.Msg.Id != req.Id || len(rec.Msg.Question) != 1 || rec.Msg.Question[0] != req.Question[0] {
			t.Fatalf("reply to %v is not a reply to it, authoritative unless refused:\n%v", req.Question[0], rec.Msg)
		}
		if refused && len(rec.Msg.Answer)+len(rec.Msg.Ns) > 0 {
			t.Fatalf("refusal of %v carries data:\n%v", req.Question[0], rec.Msg)
		}
		if len(rec.Msg.Answer) > fed.MaxAddresses {
			t.Fatalf("reply to %v has %d answers, over the cap", req.Question[0], len(rec.Msg.Answer))
		}
	})
}
