package conform

import (
	"encoding/binary"
	"testing"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/dnsserver/conform/conformtest"
)

// startServer serves conform, in front of echo, in a real CoreDNS server on
// loopback over UDP and TCP, with the hooks its setup installs.
func startServer(t *testing.T) string {
	t.Helper()
	hook()
	cfg := &dnsserver.Config{Zone: "example.", Transport: "dns", ListenHosts: []string{"127.0.0.1"}, Port: "0"}
	cfg.UDPDecorateWriterFunc = udpDecorator(nil)
	c := &Conform{}
	cfg.AddPlugin(func(next plugin.Handler) plugin.Handler { c.Next = echo; return c })
	return conformtest.Serve(t, cfg)
}

// exchangeRaw sends the bytes of a query as they are and returns the reply.
var exchangeRaw = conformtest.Exchange

// withRawOption returns a packed A query with EDNS whose OPT carries one
// option of the given code and data, written byte by byte so that it may
// be anything.
func withRawOption(t *testing.T, code uint16, data []byte, optlen int) []byte {
	t.Helper()
	m := query("a.example.", true, 0x8000)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	// The OPT is last, with an empty RDATA: its RDLENGTH is the last two
	// bytes. Replace them with the option.
	rdata := binary.BigEndian.AppendUint16(nil, code)
	rdata = binary.BigEndian.AppendUint16(rdata, uint16(optlen))
	rdata = append(rdata, data...)
	b = binary.BigEndian.AppendUint16(b[:len(b)-2], uint16(len(rdata)))
	return append(b, rdata...)
}

func packed(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply is what a query gets: its rcode, and whether it has an OPT record.
type reply struct {
	rcode int
	opt   bool
}

// TestServerEDNS sends queries that CoreDNS and miekg/dns answer before any
// plugin, and ones that conform answers, over real UDP and TCP.
func TestServerEDNS(t *testing.T) {
	addr := startServer(t)
	notify := query("a.example.", true, 0)
	notify.Opcode = dns.OpcodeNotify
	update := query("a.example.", true, 0)
	update.Opcode = dns.OpcodeUpdate
	twoOPT := query("a.example.", true, 0)
	twoOPT.Extra = append(twoOPT.Extra, twoOPT.Extra[0])
	chaos := query("a.example.", true, 0x4000, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
	chaos.Question[0].Qclass = dns.ClassCHAOS
	noQuestion := make([]byte, headerLen)
	binary.BigEndian.PutUint16(noQuestion, 0x1234)
	binary.BigEndian.PutUint16(noQuestion[4:], 1)

	for _, tc := range []struct {
		name  string
		query []byte
		rcode int
		// opt: the reply has an OPT record; do: with the DO bit.
		opt, do bool
		// tcp, when set, is what TCP gets instead: CoreDNS gives no hook
		// there (README.md, Limitations).
		tcp *reply
	}{
		{name: "ecs family 3", query: withRawOption(t, dns.EDNS0SUBNET, []byte{0, 3, 24, 0, 192, 0, 2}, 7),
			rcode: dns.RcodeFormatError, opt: true, do: true, tcp: &reply{dns.RcodeFormatError, false}},
		{name: "ecs prefix 33", query: withRawOption(t, dns.EDNS0SUBNET, []byte{0, 1, 33, 0, 192, 0, 2, 1, 0}, 9),
			rcode: dns.RcodeFormatError, opt: true, do: true, tcp: &reply{dns.RcodeFormatError, false}},
		{name: "truncated option", query: withRawOption(t, dns.EDNS0COOKIE, []byte{1, 2, 3, 4}, 8),
			rcode: dns.RcodeFormatError, opt: true, do: true, tcp: &reply{dns.RcodeFormatError, false}},
		{name: "question promised, none there", query: noQuestion, rcode: dns.RcodeFormatError, tcp: &reply{dns.RcodeServerFailure, false}},
		{name: "ecs bits past prefix", query: withRawOption(t, dns.EDNS0SUBNET, []byte{0, 1, 24, 0, 192, 0, 2, 1}, 8),
			rcode: dns.RcodeFormatError, opt: true, do: true},
		{name: "two opt", query: packed(t, twoOPT), rcode: dns.RcodeFormatError, opt: true},
		{name: "notify", query: packed(t, notify), rcode: dns.RcodeNotImplemented, opt: true},
		{name: "update", query: packed(t, update), rcode: dns.RcodeNotImplemented, opt: true},
		{name: "unknown option", query: withRawOption(t, 65001, []byte{1, 2}, 2), rcode: dns.RcodeSuccess, opt: true, do: true},
		{name: "class chaos", query: packed(t, chaos), rcode: dns.RcodeRefused, opt: true},
	} {
		for _, proto := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				rcode, opt := tc.rcode, tc.opt
				if proto == "tcp" && tc.tcp != nil {
					rcode, opt = tc.tcp.rcode, tc.tcp.opt
				}
				m := exchangeRaw(t, proto, addr, tc.query)
				if m.Rcode != rcode {
					t.Errorf("rcode %s, want %s:\n%v", dns.RcodeToString[m.Rcode], dns.RcodeToString[rcode], m)
				}
				if proto == "tcp" && tc.name == "class chaos" {
					// The server's own REFUSED copies the query's OPT.
					return
				}
				checkOPT(t, m, opt, opt && tc.do)
			})
		}
	}
}
