//go:build e2e

package delegation_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/dnsserver/conform/conformtest"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// probe is one query of the battery and what its reply must be.
type probe struct {
	name  string
	query func() *dns.Msg
	// raw, when set, is sent instead of query: bytes no library would
	// write.
	raw   func(t *testing.T) []byte
	rcode int
	// opt: the reply has one OPT record (version 0, no flag but DO, no
	// option that is not implemented); do: with DO set.
	opt, do bool
	// aa: the reply is authoritative; data: it has answer records.
	aa, data bool
	// udpOnly: over TCP the libraries answer before any plugin (see
	// dnsserver/conform/README.md, Limitations); only the rcode is
	// checked there.
	udpOnly bool
}

// q builds a query for name and type, with EDNS when flags >= 0 (the OPT
// TTL's low 16 bits: DO and the unknown flags) and the options given.
func q(name string, qtype uint16, flags int, options ...dns.EDNS0) func() *dns.Msg {
	return func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.RecursionDesired = false
		if flags >= 0 {
			o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Ttl: uint32(flags)}, Option: options}
			o.SetUDPSize(1232)
			m.Extra = append(m.Extra, o)
		}
		return m
	}
}

// withOpcode changes the opcode of a query.
func withOpcode(query func() *dns.Msg, op int) func() *dns.Msg {
	return func() *dns.Msg {
		m := query()
		m.Opcode = op
		return m
	}
}

// badECS is an A query whose EDNS Client Subnet option has the bytes
// given: the family, prefixes and address, as they are.
func badECS(data ...byte) func(t *testing.T) []byte {
	return func(t *testing.T) []byte {
		b, err := q(appFQDN, dns.TypeA, 0x8000)().Pack()
		if err != nil {
			t.Fatal(err)
		}
		// The empty OPT is last: replace its RDLENGTH with the option.
		rdata := binary.BigEndian.AppendUint16(nil, dns.EDNS0SUBNET)
		rdata = binary.BigEndian.AppendUint16(rdata, uint16(len(data)))
		rdata = append(rdata, data...)
		b = binary.BigEndian.AppendUint16(b[:len(b)-2], uint16(len(rdata)))
		return append(b, rdata...)
	}
}

// battery is done-when 2 and 3 as an EDNS compliance test in the style of
// ISC's ednscomp (plain, edns, edns1, ednsflags, ednsopt, optlist, do,
// ednstcp) and its Client Subnet checks, plus what an authoritative
// server must refuse.
func battery() []probe {
	const apex = domain + "."
	cookie := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}
	return []probe{
		{name: "plain", query: q(appFQDN, dns.TypeA, -1), rcode: dns.RcodeSuccess, aa: true, data: true},
		{name: "edns", query: q(appFQDN, dns.TypeA, 0), rcode: dns.RcodeSuccess, opt: true, aa: true, data: true},
		{name: "do", query: q(apex, dns.TypeSOA, 0x8000), rcode: dns.RcodeSuccess, opt: true, do: true, aa: true, data: true},
		{name: "ednsflags", query: q(apex, dns.TypeSOA, 0x4080), rcode: dns.RcodeSuccess, opt: true, aa: true, data: true},
		{name: "ednsopt", query: q(apex, dns.TypeSOA, 0, &dns.EDNS0_LOCAL{Code: 100, Data: []byte{1, 2}}),
			rcode: dns.RcodeSuccess, opt: true, aa: true, data: true},
		{name: "optlist", query: q(apex, dns.TypeSOA, 0x8000, cookie, &dns.EDNS0_NSID{Code: dns.EDNS0NSID},
			&dns.EDNS0_EXPIRE{Code: dns.EDNS0EXPIRE}, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE},
			&dns.EDNS0_PADDING{Padding: make([]byte, 16)}),
			rcode: dns.RcodeSuccess, opt: true, do: true, aa: true, data: true},
		{name: "ecs", query: q(appFQDN, dns.TypeA, 0, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0")}),
			rcode: dns.RcodeSuccess, opt: true, aa: true, data: true},
		{name: "ecs bits past the prefix", raw: badECS(0, 1, 24, 0, 192, 0, 2, 1), rcode: dns.RcodeFormatError, opt: true, do: true},
		{name: "ecs family 3", raw: badECS(0, 3, 24, 0, 192, 0, 2), rcode: dns.RcodeFormatError, opt: true, do: true, udpOnly: true},
		{name: "ecs prefix 33", raw: badECS(0, 1, 33, 0, 192, 0, 2, 1, 0), rcode: dns.RcodeFormatError, opt: true, do: true, udpOnly: true},
		{name: "two opt", query: func() *dns.Msg {
			m := q(apex, dns.TypeSOA, 0)()
			return m.SetEdns0(1232, false)
		}, rcode: dns.RcodeFormatError, opt: true},
		{name: "axfr", query: q(apex, dns.TypeAXFR, -1), rcode: dns.RcodeRefused},
		{name: "ixfr", query: q(apex, dns.TypeIXFR, 0), rcode: dns.RcodeRefused, opt: true},
		{name: "notify", query: withOpcode(q(apex, dns.TypeSOA, 0), dns.OpcodeNotify), rcode: dns.RcodeNotImplemented, opt: true},
		{name: "update", query: withOpcode(q(apex, dns.TypeSOA, -1), dns.OpcodeUpdate), rcode: dns.RcodeNotImplemented},
		{name: "outside the zone", query: q("example.org.", dns.TypeA, 0x4000, cookie), rcode: dns.RcodeRefused, opt: true},
	}
}

// TestConformance runs the battery against every server that install
// configures, at its load-balancer address, over UDP and TCP, and checks the delegation's records: NS
// and glue with ns_ttl, every name on the way to a nameserver existing.
func TestConformance(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	logServersOnFailure(t)
	var servers []string
	for _, c := range testLab.Clusters {
		servers = append(servers, dnsAddr(in.server[c.Name]))
	}
	for i, addr := range servers {
		cluster := testLab.Clusters[i].Name
		for _, p := range battery() {
			for _, proto := range []string{"udp", "tcp"} {
				t.Run(cluster+"/"+p.name+"/"+proto, func(t *testing.T) {
					var wire []byte
					if p.raw != nil {
						wire = p.raw(t)
					} else {
						var err error
						if wire, err = p.query().Pack(); err != nil {
							t.Fatal(err)
						}
					}
					r := exchangeRaw(t, proto, addr, wire)
					if r.Rcode != p.rcode {
						t.Fatalf("rcode %s, want %s:\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[p.rcode], r)
					}
					if proto == "tcp" && p.udpOnly {
						return
					}
					checkOPT(t, r, p.opt, p.do)
					if r.Authoritative != p.aa || (len(r.Answer) > 0) != p.data {
						t.Errorf("AA %v with %d answers, want AA %v and answers %v:\n%v", r.Authoritative, len(r.Answer), p.aa, p.data, r)
					}
					if r.Zero {
						t.Error("the reply's Z bit is set")
					}
				})
			}
		}
		t.Run(cluster+"/delegation", func(t *testing.T) { checkDelegation(t, addr, in) })
	}
}

// checkDelegation checks the NS records and glue install configured: the
// TTL install set, and every nameserver's name answering.
func checkDelegation(t *testing.T, addr string, in *installation) {
	for _, proto := range []string{"udp", "tcp"} {
		r, err := ask(addr, proto, domain+".", dns.TypeNS)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) != len(members) {
			t.Errorf("%s: %d NS records, want %d", proto, len(r.Answer), len(members))
		}
		for _, rr := range append(r.Answer, r.Extra...) {
			if rr.Header().Rrtype != dns.TypeOPT && rr.Header().Ttl != 3600 {
				t.Errorf("%s: %v has TTL %d, want install's ns_ttl 3600", proto, rr, rr.Header().Ttl)
			}
		}
		if r.Truncated {
			t.Errorf("%s: TC set on an NS answer that fits", proto)
		}
		for _, rr := range r.Answer {
			ns := rr.(*dns.NS).Ns
			a, err := ask(addr, proto, ns, dns.TypeA)
			if err != nil {
				t.Fatal(err)
			}
			if a.Rcode != dns.RcodeSuccess || len(a.Answer) != 1 || !a.Authoritative {
				t.Errorf("%s: %s A: %v, want its glue: the zone must not be lame", proto, ns, a)
				continue
			}
			got, _ := netip.AddrFromSlice(a.Answer[0].(*dns.A).A)
			if !hasGlue(in.records, ns, got.Unmap()) {
				t.Errorf("%s: %s is %s, not what install printed", proto, ns, got)
			}
		}
	}
}

func hasGlue(records []dns.RR, name string, addr netip.Addr) bool {
	for _, rr := range records {
		if a, ok := rr.(*dns.A); ok && dns.CanonicalName(a.Hdr.Name) == dns.CanonicalName(name) {
			if got, _ := netip.AddrFromSlice(a.A); got.Unmap() == addr {
				return true
			}
		}
	}
	return false
}

// checkOPT checks the OPT record of r: coredns-fed implements EDNS Client
// Subnet and cookies, and echoes nothing else.
func checkOPT(t *testing.T, r *dns.Msg, want, do bool) {
	t.Helper()
	for _, p := range conformtest.CheckOPT(r, want, do, "0102030405060708", dns.EDNS0SUBNET) {
		t.Error(p)
	}
}

// exchangeRaw sends the bytes of a query as they are, over UDP or TCP, and
// returns the reply.
var exchangeRaw = conformtest.Exchange
