package dnsserver

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/pkg/fall"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

func TestServeDNSOutsideZone(t *testing.T) {
	f := testFed()
	m := new(dns.Msg)
	m.SetQuestion("example.org.", dns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, _ := f.ServeDNS(context.Background(), rec, m)
	if rcode != dns.RcodeRefused {
		t.Errorf("last in the chain: rcode %s, want REFUSED", dns.RcodeToString[rcode])
	}

	f.Next = test.NextHandler(dns.RcodeSuccess, nil)
	rcode, _ = f.ServeDNS(context.Background(), rec, m)
	if rcode != dns.RcodeSuccess {
		t.Errorf("with a next plugin: rcode %s, want the next plugin's", dns.RcodeToString[rcode])
	}
}

func TestServeDNSBeforeSync(t *testing.T) {
	f := New("magicring", []string{testZone})
	if f.Ready() {
		t.Error("ready before any index")
	}
	m := new(dns.Msg)
	m.SetQuestion("web"+svc+testZone, dns.TypeA)
	rcode, _ := f.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), m)
	if rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s before the first sync, want SERVFAIL", dns.RcodeToString[rcode])
	}
	f.SetIndex(BuildIndex(nil, 1))
	if !f.Ready() {
		t.Error("not ready with an index")
	}
}

func TestServeDNSFallthrough(t *testing.T) {
	f := testFed()
	f.Fall = fall.F{Zones: []string{testZone}}
	f.Next = test.NextHandler(dns.RcodeBadCookie, nil)
	for qname, want := range map[string]int{
		"www." + testZone:          dns.RcodeBadCookie, // NXDOMAIN: passed on
		"web" + svc + testZone:     dns.RcodeSuccess,
		"svc." + testZone:          dns.RcodeSuccess, // NODATA: answered
		"nope" + svc + testZone:    dns.RcodeBadCookie,
		"pending" + svc + testZone: dns.RcodeSuccess,
	} {
		m := new(dns.Msg)
		m.SetQuestion(qname, dns.TypeA)
		rcode, _ := f.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{}), m)
		if rcode != want {
			t.Errorf("%s: rcode %s, want %s", qname, dns.RcodeToString[rcode], dns.RcodeToString[want])
		}
	}
}
