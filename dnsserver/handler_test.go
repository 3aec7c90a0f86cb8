package dnsserver

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

const (
	testZone   = "demo.example.com."
	testSerial = 1700000000
)

// testMembers is a federation of four members: two in one region (in
// different zones), one in each of two others.
//
//	web       healthy in usa, use2, eur; down in jpn
//	api       a load-balancer host name in usa
//	down      down everywhere
//	regional  down in eur, healthy in jpn
//	pending   no entry point yet
//	wide      twenty addresses in usa
func testMembers() []Member {
	addr := netip.MustParseAddr
	up := func(a string) EntryPoint { return EntryPoint{Addr: addr(a), Healthy: true} }
	down := func(a string) EntryPoint { return EntryPoint{Addr: addr(a)} }
	webPorts := []Port{{Name: "http", Protocol: "tcp", Port: 8080}}

	var wide []EntryPoint
	for i := range 20 {
		wide = append(wide, up(fmt.Sprintf("127.0.9.%d", i+1)))
	}
	return []Member{
		{
			Cluster: Cluster{Name: "usa", Region: "us-east-1", Zone: "us-east-1a"},
			Services: []MemberService{
				{Namespace: "default", Name: "web",
					Ports:       []Port{{Name: "http", Protocol: "tcp", Port: 8080}, {Name: "https", Protocol: "tcp", Port: 8443}},
					EntryPoints: []EntryPoint{up("127.0.1.1"), up("2001:db8::1")}},
				{Namespace: "default", Name: "api", EntryPoints: []EntryPoint{{Hostname: "lb.usa.example.net.", Healthy: true}}},
				{Namespace: "default", Name: "down", EntryPoints: []EntryPoint{down("127.0.1.3")}},
				{Namespace: "default", Name: "pending"},
				{Namespace: "default", Name: "wide", EntryPoints: wide},
			},
		},
		{
			Cluster: Cluster{Name: "use2", Region: "us-east-1", Zone: "us-east-1b"},
			Services: []MemberService{
				{Namespace: "default", Name: "web", Ports: webPorts, EntryPoints: []EntryPoint{up("127.0.4.1")}},
			},
		},
		{
			Cluster: Cluster{Name: "eur", Region: "eu-west-1", Zone: "eu-west-1a"},
			Services: []MemberService{
				{Namespace: "default", Name: "web", Ports: webPorts, EntryPoints: []EntryPoint{up("127.0.2.1")}},
				{Namespace: "default", Name: "down", EntryPoints: []EntryPoint{down("127.0.2.3")}},
				{Namespace: "default", Name: "regional", EntryPoints: []EntryPoint{down("127.0.2.4")}},
			},
		},
		{
			Cluster: Cluster{Name: "jpn", Region: "ap-northeast-1", Zone: "ap-northeast-1a"},
			Services: []MemberService{
				{Namespace: "default", Name: "web", Ports: webPorts, EntryPoints: []EntryPoint{down("127.0.3.1")}},
				{Namespace: "default", Name: "regional", EntryPoints: []EntryPoint{up("127.0.3.4")}},
			},
		},
	}
}

func testFed() *Fed {
	f := New("magicring", []string{testZone})
	f.Nameservers = []Nameserver{
		{Name: "ns1.demo.example.com.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}},
		{Name: "ns.other.example.net."},
		{Name: "ns2.dns.demo.example.com.", Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.54")}},
	}
	f.SetIndex(BuildIndex(testMembers(), testSerial))
	return f
}

var (
	soa = test.SOA("demo.example.com. 5 IN SOA ns1.demo.example.com. hostmaster.demo.example.com. 1700000000 14400 3600 1209600 5")
	svc = ".default.magicring.svc."
)

var handlerCases = []test.Case{
	// Global, region and zone names.
	{Qname: "web" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("web.default.magicring.svc.demo.example.com. 5 IN A 127.0.1.1"),
		test.A("web.default.magicring.svc.demo.example.com. 5 IN A 127.0.2.1"),
		test.A("web.default.magicring.svc.demo.example.com. 5 IN A 127.0.4.1"),
	}},
	{Qname: "web" + svc + testZone, Qtype: dns.TypeAAAA, Answer: []dns.RR{
		test.AAAA("web.default.magicring.svc.demo.example.com. 5 IN AAAA 2001:db8::1"),
	}},
	{Qname: "web" + svc + "us-east-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("web.default.magicring.svc.us-east-1.demo.example.com. 5 IN A 127.0.1.1"),
		test.A("web.default.magicring.svc.us-east-1.demo.example.com. 5 IN A 127.0.4.1"),
	}},
	{Qname: "web" + svc + "us-east-1a.us-east-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("web.default.magicring.svc.us-east-1a.us-east-1.demo.example.com. 5 IN A 127.0.1.1"),
	}},
	{Qname: "web" + svc + "eu-west-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("web.default.magicring.svc.eu-west-1.demo.example.com. 5 IN A 127.0.2.1"),
	}},
	// The zone has it healthy but not in this family: NODATA, no widening.
	{Qname: "web" + svc + "eu-west-1." + testZone, Qtype: dns.TypeAAAA, Ns: []dns.RR{soa}},

	// Fallback, flattened: nothing healthy in ap-northeast-1, so the
	// global answer, under the name asked.
	{Qname: "web" + svc + "ap-northeast-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("web.default.magicring.svc.ap-northeast-1.demo.example.com. 5 IN A 127.0.1.1"),
		test.A("web.default.magicring.svc.ap-northeast-1.demo.example.com. 5 IN A 127.0.2.1"),
		test.A("web.default.magicring.svc.ap-northeast-1.demo.example.com. 5 IN A 127.0.4.1"),
	}},
	{Qname: "web" + svc + "ap-northeast-1a.ap-northeast-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("web.default.magicring.svc.ap-northeast-1a.ap-northeast-1.demo.example.com. 5 IN A 127.0.1.1"),
		test.A("web.default.magicring.svc.ap-northeast-1a.ap-northeast-1.demo.example.com. 5 IN A 127.0.2.1"),
		test.A("web.default.magicring.svc.ap-northeast-1a.ap-northeast-1.demo.example.com. 5 IN A 127.0.4.1"),
	}},
	// A region whose members do not have the Service widens too.
	{Qname: "regional" + svc + "us-east-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("regional.default.magicring.svc.us-east-1.demo.example.com. 5 IN A 127.0.3.4"),
	}},
	{Qname: "regional" + svc + "eu-west-1a.eu-west-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("regional.default.magicring.svc.eu-west-1a.eu-west-1.demo.example.com. 5 IN A 127.0.3.4"),
	}},

	// Nothing healthy anywhere: fail open, every address.
	{Qname: "down" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("down.default.magicring.svc.demo.example.com. 5 IN A 127.0.1.3"),
		test.A("down.default.magicring.svc.demo.example.com. 5 IN A 127.0.2.3"),
	}},
	{Qname: "down" + svc + "us-east-1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("down.default.magicring.svc.us-east-1.demo.example.com. 5 IN A 127.0.1.3"),
		test.A("down.default.magicring.svc.us-east-1.demo.example.com. 5 IN A 127.0.2.3"),
	}},
	// A Service with no entry point yet exists, with no data.
	{Qname: "pending" + svc + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},

	// The address cap.
	{Qname: "wide" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.1"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.2"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.3"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.4"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.5"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.6"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.7"),
		test.A("wide.default.magicring.svc.demo.example.com. 5 IN A 127.0.9.8"),
	}},

	// Load-balancer host names are CNAMEs.
	{Qname: "api" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.CNAME("api.default.magicring.svc.demo.example.com. 5 IN CNAME lb.usa.example.net."),
	}},
	{Qname: "api" + svc + testZone, Qtype: dns.TypeAAAA, Answer: []dns.RR{
		test.CNAME("api.default.magicring.svc.demo.example.com. 5 IN CNAME lb.usa.example.net."),
	}},

	// Case-insensitive, and the answer keeps the case asked.
	{Qname: "WEB.Default.MagicRing.SVC.US-East-1A.us-east-1.Demo.Example.COM.", Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("WEB.Default.MagicRing.SVC.US-East-1A.us-east-1.Demo.Example.COM. 5 IN A 127.0.1.1"),
	}},

	// SRV for named ports, with the members' names as targets.
	{Qname: "_http._tcp.web" + svc + testZone, Qtype: dns.TypeSRV,
		Answer: []dns.RR{
			test.SRV("_http._tcp.web.default.magicring.svc.demo.example.com. 5 IN SRV 0 33 8080 eur.web.default.magicring.svc.demo.example.com."),
			test.SRV("_http._tcp.web.default.magicring.svc.demo.example.com. 5 IN SRV 0 33 8080 usa.web.default.magicring.svc.demo.example.com."),
			test.SRV("_http._tcp.web.default.magicring.svc.demo.example.com. 5 IN SRV 0 33 8080 use2.web.default.magicring.svc.demo.example.com."),
		},
		Extra: []dns.RR{
			test.A("eur.web.default.magicring.svc.demo.example.com. 5 IN A 127.0.2.1"),
			test.A("usa.web.default.magicring.svc.demo.example.com. 5 IN A 127.0.1.1"),
			test.AAAA("usa.web.default.magicring.svc.demo.example.com. 5 IN AAAA 2001:db8::1"),
			test.A("use2.web.default.magicring.svc.demo.example.com. 5 IN A 127.0.4.1"),
		},
	},
	{Qname: "_https._tcp.web" + svc + "us-east-1." + testZone, Qtype: dns.TypeSRV,
		Answer: []dns.RR{
			test.SRV("_https._tcp.web.default.magicring.svc.us-east-1.demo.example.com. 5 IN SRV 0 100 8443 usa.web.default.magicring.svc.demo.example.com."),
		},
		Extra: []dns.RR{
			test.A("usa.web.default.magicring.svc.demo.example.com. 5 IN A 127.0.1.1"),
			test.AAAA("usa.web.default.magicring.svc.demo.example.com. 5 IN AAAA 2001:db8::1"),
		},
	},
	{Qname: "_http._tcp.web" + svc + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "_gopher._tcp.web" + svc + testZone, Qtype: dns.TypeSRV, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "_http._udp.web" + svc + testZone, Qtype: dns.TypeSRV, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "_tcp.web" + svc + testZone, Qtype: dns.TypeSRV, Ns: []dns.RR{soa}},
	{Qname: "_udp.web" + svc + testZone, Qtype: dns.TypeSRV, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},

	// Member names: SRV targets.
	{Qname: "usa.web" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("usa.web.default.magicring.svc.demo.example.com. 5 IN A 127.0.1.1"),
	}},
	{Qname: "jpn.web" + svc + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "jpn.down" + svc + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "eur.down" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
		test.A("eur.down.default.magicring.svc.demo.example.com. 5 IN A 127.0.2.3"),
	}},
	{Qname: "mars.web" + svc + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},

	// The apex.
	{Qname: testZone, Qtype: dns.TypeSOA, Answer: []dns.RR{soa}, Ns: []dns.RR{
		test.NS("demo.example.com. 3600 IN NS ns.other.example.net."),
		test.NS("demo.example.com. 3600 IN NS ns1.demo.example.com."),
		test.NS("demo.example.com. 3600 IN NS ns2.dns.demo.example.com."),
	}},
	{Qname: testZone, Qtype: dns.TypeNS,
		Answer: []dns.RR{
			test.NS("demo.example.com. 3600 IN NS ns.other.example.net."),
			test.NS("demo.example.com. 3600 IN NS ns1.demo.example.com."),
			test.NS("demo.example.com. 3600 IN NS ns2.dns.demo.example.com."),
		},
		Extra: []dns.RR{
			test.A("ns1.demo.example.com. 3600 IN A 192.0.2.53"),
			test.AAAA("ns1.demo.example.com. 3600 IN AAAA 2001:db8::53"),
			test.A("ns2.dns.demo.example.com. 3600 IN A 192.0.2.54"),
		},
	},
	{Qname: testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "ns1." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{test.A("ns1.demo.example.com. 3600 IN A 192.0.2.53")}},
	{Qname: "ns1." + testZone, Qtype: dns.TypeAAAA, Answer: []dns.RR{test.AAAA("ns1.demo.example.com. 3600 IN AAAA 2001:db8::53")}},
	{Qname: "ns1." + testZone, Qtype: dns.TypeMX, Ns: []dns.RR{soa}},
	{Qname: "ns2.dns." + testZone, Qtype: dns.TypeA, Answer: []dns.RR{test.A("ns2.dns.demo.example.com. 3600 IN A 192.0.2.54")}},
	// Above a nameserver's name: an empty non-terminal (RFC 8020), not
	// NXDOMAIN, which would deny the nameserver below it.
	{Qname: "dns." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "dns." + testZone, Qtype: dns.TypeNS, Ns: []dns.RR{soa}},
	{Qname: "x.dns." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	// No zone transfers (RFC 5936, section 4.2).
	{Qname: testZone, Qtype: dns.TypeAXFR, Rcode: dns.RcodeRefused},
	{Qname: testZone, Qtype: dns.TypeIXFR, Rcode: dns.RcodeRefused},

	// NODATA and NXDOMAIN, both with the SOA.
	{Qname: "web" + svc + testZone, Qtype: dns.TypeTXT, Ns: []dns.RR{soa}},
	{Qname: "web" + svc + testZone, Qtype: dns.TypeMX, Ns: []dns.RR{soa}},
	{Qname: "nope" + svc + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "web.kube-system.magicring.svc." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "web.default.otherfed.svc." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "web" + svc + "mars-1." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "web" + svc + "eu-west-1a.us-east-1." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "www." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "a.b.c.d.e.f.g.h.i." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},

	// Empty non-terminals exist (RFC 8020): NODATA, not NXDOMAIN.
	{Qname: "default.magicring.svc." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "magicring.svc." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "svc." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "us-east-1." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "us-east-1a.us-east-1." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "svc.us-east-1a.us-east-1." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "magicring.svc.us-east-1." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "default.magicring.svc.eu-west-1." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
	{Qname: "kube-system.magicring.svc." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
	{Qname: "mars-1." + testZone, Qtype: dns.TypeA, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},

	// ANY gets one synthesised HINFO (RFC 8482).
	{Qname: "web" + svc + testZone, Qtype: dns.TypeANY, Answer: []dns.RR{test.HINFO("web.default.magicring.svc.demo.example.com. 5 IN HINFO RFC8482 \"\"")}},
	{Qname: testZone, Qtype: dns.TypeANY, Answer: []dns.RR{test.HINFO("demo.example.com. 5 IN HINFO RFC8482 \"\"")}},
	{Qname: "nope" + svc + testZone, Qtype: dns.TypeANY, Rcode: dns.RcodeNameError, Ns: []dns.RR{soa}},
}

func TestServeDNS(t *testing.T) {
	f := testFed()
	ctx := context.Background()
	for _, tc := range handlerCases {
		t.Run(dns.TypeToString[tc.Qtype]+" "+tc.Qname, func(t *testing.T) {
			tc.Authoritative = tc.Rcode != dns.RcodeRefused
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			if _, err := f.ServeDNS(ctx, rec, tc.Msg()); err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if rec.Msg == nil {
				t.Fatal("no reply written")
			}
			if err := test.SortAndCheck(rec.Msg, tc); err != nil {
				t.Error(err)
			}
			// test.Section compares the SOA's nameserver only.
			for _, rr := range append(rec.Msg.Answer, rec.Msg.Ns...) {
				if got, ok := rr.(*dns.SOA); ok && got.String() != soa.String() {
					t.Errorf("SOA\n%s\nwant\n%s", got, soa)
				}
			}
		})
	}
}

// TestServeDNSNoData checks the nodata policy: nothing healthy anywhere is
// NODATA, and the members' names follow it.
func TestServeDNSNoData(t *testing.T) {
	f := testFed()
	f.FailOpen = false
	for _, tc := range []test.Case{
		{Qname: "down" + svc + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
		{Qname: "down" + svc + "eu-west-1." + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
		{Qname: "eur.down" + svc + testZone, Qtype: dns.TypeA, Ns: []dns.RR{soa}},
		{Qname: "web" + svc + testZone, Qtype: dns.TypeA, Answer: []dns.RR{
			test.A("web.default.magicring.svc.demo.example.com. 5 IN A 127.0.1.1"),
			test.A("web.default.magicring.svc.demo.example.com. 5 IN A 127.0.2.1"),
			test.A("web.default.magicring.svc.demo.example.com. 5 IN A 127.0.4.1"),
		}},
	} {
		tc.Authoritative = true
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		if _, err := f.ServeDNS(context.Background(), rec, tc.Msg()); err != nil {
			t.Fatal(err)
		}
		if err := test.SortAndCheck(rec.Msg, tc); err != nil {
			t.Errorf("%s: %v", tc.Qname, err)
		}
	}
}
