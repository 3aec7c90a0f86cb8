package dnsserver

import (
	"net/netip"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/dnsserver/conform/conformtest"
)

// startServer serves f as the only plugin of a real CoreDNS server on
// loopback, over UDP and TCP, and returns its address.
func startServer(t *testing.T, f *Fed) string {
	t.Helper()
	cfg := &dnsserver.Config{Zone: testZone, Transport: "dns", ListenHosts: []string{"127.0.0.1"}, Port: "0"}
	cfg.AddPlugin(func(next plugin.Handler) plugin.Handler { f.Next = next; return f })
	return conformtest.Serve(t, cfg)
}

// TestServerTransports checks what the plugin gets from the server around
// it: UDP and TCP, EDNS0 echoed, and an answer too large for the client's
// UDP buffer truncated, then whole over TCP.
func TestServerTransports(t *testing.T) {
	f := testFed()
	f.MaxAddresses = 1000
	members := testMembers()
	var eps []EntryPoint
	for i := range 60 {
		eps = append(eps, EntryPoint{Addr: netip.AddrFrom4([4]byte{127, 0, 10, byte(i + 1)}), Healthy: true})
	}
	members[0].Services = append(members[0].Services, MemberService{Namespace: "default", Name: "many", EntryPoints: eps})
	f.SetIndex(BuildIndex(members, testSerial))
	addr := startServer(t, f)

	query := func(net, name string, qtype uint16, bufsize uint16) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		if bufsize > 0 {
			m.SetEdns0(bufsize, false)
		}
		c := &dns.Client{Net: net}
		r, _, err := c.Exchange(m, addr)
		if err != nil {
			t.Fatalf("%s %s: %v", net, name, err)
		}
		return r
	}

	for _, proto := range []string{"udp", "tcp"} {
		r := query(proto, "web"+svc+testZone, dns.TypeA, 0)
		if !r.Authoritative || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 3 {
			t.Errorf("%s: %v", proto, r)
		}
	}

	r := query("udp", "web"+svc+testZone, dns.TypeA, 1232)
	if opt := r.IsEdns0(); opt == nil {
		t.Error("EDNS0 query: no OPT in the reply")
	}

	many := "many" + svc + testZone
	r = query("udp", many, dns.TypeA, 0)
	if !r.Truncated || len(r.Answer) >= 60 {
		t.Errorf("60 addresses over UDP in 512 bytes: TC %v with %d answers, want TC and fewer", r.Truncated, len(r.Answer))
	}
	r = query("tcp", many, dns.TypeA, 0)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("over TCP: TC %v with %d answers, want all 60", r.Truncated, len(r.Answer))
	}
	r = query("udp", many, dns.TypeA, 4096)
	if r.Truncated || len(r.Answer) != 60 {
		t.Errorf("over UDP with a 4096-byte EDNS0 buffer: TC %v with %d answers, want all 60", r.Truncated, len(r.Answer))
	}

	// The client library retries over TCP on TC, as resolvers do.
	m := new(dns.Msg)
	m.SetQuestion(many, dns.TypeA)
	r, _, err := (&dns.Client{Net: "udp"}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated {
		r, _, err = (&dns.Client{Net: "tcp"}).Exchange(m, addr)
		if err != nil || len(r.Answer) != 60 {
			t.Errorf("retry over TCP: %v, %d answers", err, len(r.Answer))
		}
	}

	// Outside the zone, with nothing after fed: REFUSED.
	r = query("udp", "example.org.", dns.TypeA, 0)
	if r.Rcode != dns.RcodeRefused {
		t.Errorf("outside the zone: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}
