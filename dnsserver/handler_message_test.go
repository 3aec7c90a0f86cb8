package dnsserver

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// TestServeDNSOpcode checks that a NOTIFY, or any opcode but QUERY, gets
// NOTIMP and no data, even without conform in front.
func TestServeDNSOpcode(t *testing.T) {
	f := testFed()
	for _, op := range []int{dns.OpcodeNotify, dns.OpcodeUpdate, dns.OpcodeStatus} {
		m := new(dns.Msg)
		m.SetQuestion("web"+svc+testZone, dns.TypeSOA)
		m.Opcode = op
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := f.ServeDNS(context.Background(), rec, m); err != nil {
			t.Fatal(err)
		}
		r := rec.Msg
		if r == nil || r.Rcode != dns.RcodeNotImplemented || r.Authoritative || len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 || r.Opcode != op {
			t.Errorf("opcode %s: %v, want NOTIMP with the opcode kept, no AA and no records", dns.OpcodeToString[op], r)
		}
	}
}

// TestServeDNSCompressed checks that answers go out with their names
// compressed: the packed reply is what travels, and each record's owner
// name is the question's.
func TestServeDNSCompressed(t *testing.T) {
	f := testFed()
	m := new(dns.Msg)
	m.SetQuestion("web"+svc+testZone, dns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := f.ServeDNS(context.Background(), rec, m); err != nil {
		t.Fatal(err)
	}
	if rec.Msg == nil || len(rec.Msg.Answer) < 2 {
		t.Fatalf("want an answer of several records, got %v", rec.Msg)
	}
	if !rec.Msg.Compress {
		t.Error("the reply is written uncompressed")
	}
	packed, err := rec.Msg.Pack()
	if err != nil {
		t.Fatal(err)
	}
	plain := rec.Msg.Copy()
	plain.Compress = false
	full, err := plain.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if len(packed) >= len(full) {
		t.Errorf("compressed reply of %d bytes, uncompressed %d: nothing saved", len(packed), len(full))
	}
}
