package conform

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kfed-dev/kfed/dnsserver/conform/conformtest"
)

// echo is a data plugin that gets EDNS wrong in every way CoreDNS's own
// replies do: it copies the query's OPT record, options, flags and all,
// into its answer.
var echo = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.Answer = []dns.RR{test.A(r.Question[0].Name + " 5 IN A 192.0.2.1")}
	if o := r.IsEdns0(); o != nil {
		m.Extra = append(m.Extra, o)
	}
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
})

// query returns an A query for name with an OPT record of the given flags
// (the TTL field's low 16 bits) and options, or none when edns is false.
func query(name string, edns bool, flags uint16, options ...dns.EDNS0) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	if edns {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Ttl: uint32(flags)}, Option: options}
		o.SetUDPSize(4096)
		m.Extra = append(m.Extra, o)
	}
	return m
}

func ecs(family uint16, prefix uint8, addr string) *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: prefix, Address: net.ParseIP(addr)}
}

func TestServeDNS(t *testing.T) {
	cookie := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}
	for _, tc := range []struct {
		name  string
		req   *dns.Msg
		rcode int
		// opt: whether the reply has an OPT record; do its DO bit.
		opt, do bool
		reason  string
	}{
		{name: "plain", req: query("a.example.", false, 0), rcode: dns.RcodeSuccess},
		{name: "edns", req: query("a.example.", true, 0), rcode: dns.RcodeSuccess, opt: true},
		{name: "do kept", req: query("a.example.", true, 0x8000), rcode: dns.RcodeSuccess, opt: true, do: true},
		{name: "unknown flags cleared", req: query("a.example.", true, 0x7f00), rcode: dns.RcodeSuccess, opt: true},
		{name: "options not echoed", req: query("a.example.", true, 0x8000, cookie,
			&dns.EDNS0_NSID{Code: dns.EDNS0NSID}, &dns.EDNS0_EXPIRE{Code: dns.EDNS0EXPIRE},
			&dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE}, &dns.EDNS0_PADDING{Padding: make([]byte, 8)},
			&dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1}}), rcode: dns.RcodeSuccess, opt: true, do: true},
		{name: "ecs ok", req: query("a.example.", true, 0, ecs(1, 24, "192.0.2.0")), rcode: dns.RcodeSuccess, opt: true},
		{name: "ecs zero", req: query("a.example.", true, 0, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET}), rcode: dns.RcodeSuccess, opt: true},
		{name: "ecs bits past prefix", req: query("a.example.", true, 0, ecs(1, 24, "192.0.2.1")),
			rcode: dns.RcodeFormatError, opt: true, reason: reasonECS},
		{name: "ecs v6 bits past prefix", req: query("a.example.", true, 0, ecs(2, 48, "2001:db8:0:100::")),
			rcode: dns.RcodeFormatError, opt: true, reason: reasonECS},
		{name: "ecs v6 ok", req: query("a.example.", true, 0, ecs(2, 56, "2001:db8:0:100::")), rcode: dns.RcodeSuccess, opt: true},
		{name: "two opt", req: func() *dns.Msg {
			m := query("a.example.", true, 0)
			m.Extra = append(m.Extra, m.Extra[0])
			return m
		}(), rcode: dns.RcodeFormatError, opt: true, reason: reasonMultipleOPT},
		{name: "opt not at root", req: func() *dns.Msg {
			m := query("a.example.", true, 0)
			m.Extra[0].Header().Name = "a.example."
			return m
		}(), rcode: dns.RcodeFormatError, opt: true, reason: reasonOPTName},
		{name: "notify", req: func() *dns.Msg {
			m := query("a.example.", true, 0)
			m.Opcode = dns.OpcodeNotify
			return m
		}(), rcode: dns.RcodeNotImplemented, opt: true, reason: reasonOpcode},
		{name: "notify without edns", req: func() *dns.Msg {
			m := query("a.example.", false, 0)
			m.Opcode = dns.OpcodeNotify
			return m
		}(), rcode: dns.RcodeNotImplemented, reason: reasonOpcode},
		{name: "two questions", req: func() *dns.Msg {
			m := query("a.example.", true, 0)
			m.Question = append(m.Question, m.Question[0])
			return m
		}(), rcode: dns.RcodeFormatError, opt: true, reason: reasonQuestionCount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Conform{Next: echo}
			rec := dnstest.NewRecorder(&test.ResponseWriter{})
			before := counted(tc.reason)
			if _, err := c.ServeDNS(context.Background(), rec, tc.req); err != nil {
				t.Fatal(err)
			}
			m := rec.Msg
			if m == nil {
				t.Fatal("no reply")
			}
			if m.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[tc.rcode])
			}
			if m.Id != tc.req.Id || !m.Response || m.Opcode != tc.req.Opcode {
				t.Errorf("not a reply to the query: %v", m)
			}
			checkOPT(t, m, tc.opt, tc.do)
			if tc.reason != "" && counted(tc.reason) != before+1 {
				t.Errorf("rejected_total{reason=%q} did not count it", tc.reason)
			}
		})
	}
}

// checkOPT checks the OPT record of m (conformtest.CheckOPT), a COOKIE
// being the client cookie the tests send.
func checkOPT(t *testing.T, m *dns.Msg, want, do bool) {
	t.Helper()
	for _, p := range conformtest.CheckOPT(m, want, do, testClientCookie, dns.EDNS0SUBNET, dns.EDNS0NSID, dns.EDNS0EDE) {
		t.Error(p)
	}
}

// testClientCookie is the client cookie of the tests' queries.
const testClientCookie = "0102030405060708"

func counted(reason string) float64 {
	if reason == "" {
		return 0
	}
	return testutil.ToFloat64(rejected.WithLabelValues("", reason))
}

// TestServeDNSWritesErrors checks that an error a plugin returns without
// writing is written here, normalised, and not left to the server.
func TestServeDNSWritesErrors(t *testing.T) {
	fail := plugin.HandlerFunc(func(context.Context, dns.ResponseWriter, *dns.Msg) (int, error) {
		return dns.RcodeServerFailure, nil
	})
	for _, next := range []plugin.Handler{fail, nil} {
		c := &Conform{Next: next}
		rec := dnstest.NewRecorder(&test.ResponseWriter{})
		req := query("a.example.", true, 0x4000, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		rcode, _ := c.ServeDNS(context.Background(), rec, req)
		if !plugin.ClientWrite(rcode) || rec.Msg == nil {
			t.Fatalf("next %v: rcode %d and reply %v: the server would write another", next, rcode, rec.Msg)
		}
		want := dns.RcodeServerFailure
		if next == nil {
			want = dns.RcodeRefused
		}
		if rec.Msg.Rcode != want {
			t.Errorf("next %v: rcode %s, want %s", next, dns.RcodeToString[rec.Msg.Rcode], dns.RcodeToString[want])
		}
		checkOPT(t, rec.Msg, true, false)
	}
}

// TestFitAdditional checks RFC 2181, section 9: additional records that do
// not fit are dropped without TC; answers that do not fit are left for
// CoreDNS to truncate, with TC.
func TestFitAdditional(t *testing.T) {
	big := func(answers, extra int) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.", dns.TypeNS)
		for i := range answers {
			m.Answer = append(m.Answer, test.NS("example. 3600 IN NS ns"+string(rune('a'+i))+".a-rather-long-name-for-a-nameserver.example."))
		}
		for i := range extra {
			m.Extra = append(m.Extra, &dns.TXT{
				Hdr: dns.RR_Header{Name: "ns" + string(rune('a'+i)) + ".a-rather-long-name-for-a-nameserver.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET},
				Txt: []string{strings.Repeat("x", 100)},
			})
		}
		return m
	}
	m := big(8, 8)
	fitAdditional(m, 512)
	if m.Len() > 512 || len(m.Answer) != 8 || len(m.Extra) == 8 || m.Truncated {
		t.Errorf("%d answers, %d additional, %d bytes, TC %v: want 8 answers and fewer additional in 512 bytes without TC",
			len(m.Answer), len(m.Extra), m.Len(), m.Truncated)
	}
	m = big(26, 4)
	fitAdditional(m, 512)
	if len(m.Answer) != 26 || len(m.Extra) != 0 {
		t.Errorf("%d answers, %d additional: want every answer kept for CoreDNS to truncate, and no additional", len(m.Answer), len(m.Extra))
	}

	// Signed glue: two addresses and an RRSIG for each of four names. What
	// is dropped goes by whole RRsets with their signatures.
	m = big(4, 0)
	for i := range 4 {
		name := "ns" + string(rune('a'+i)) + ".a-rather-long-name-for-a-nameserver.example."
		for _, a := range []string{"192.0.2.1", "192.0.2.2"} {
			m.Extra = append(m.Extra, test.A(name+" 3600 IN A "+a))
		}
		m.Extra = append(m.Extra, &dns.RRSIG{
			Hdr:         dns.RR_Header{Name: name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: 3600},
			TypeCovered: dns.TypeA, Algorithm: dns.ECDSAP256SHA256, Labels: 4, OrigTtl: 3600,
			Expiration: 1, Inception: 1, KeyTag: 1, SignerName: "example.", Signature: strings.Repeat("A", 88),
		})
	}
	fitAdditional(m, 512)
	kept := map[string]int{}
	for _, rr := range m.Extra {
		kept[rr.Header().Name]++
	}
	if m.Len() > 512 || len(kept) == 0 || len(kept) == 4 {
		t.Errorf("%d bytes, additional for %d names: want some of the 4 names' glue dropped to fit 512 bytes", m.Len(), len(kept))
	}
	for name, n := range kept {
		if n != 3 {
			t.Errorf("%s keeps %d of its 2 addresses and 1 signature: an RRset or its RRSIG was split", name, n)
		}
	}
}

// TestCookies checks DNS Cookies (RFC 7873) with RFC 9018 server cookies:
// a server cookie for a client cookie alone, kept while fresh and valid,
// renewed when stale, forged or for another address; FORMERR for a
// malformed option.
func TestCookies(t *testing.T) {
	clock := time.Unix(1_800_000_000, 0)
	now = func() time.Time { return clock }
	t.Cleanup(func() { now = time.Now })
	c := &Conform{Next: echo}
	ask := func(cookie, ip string) (*dns.Msg, string) {
		t.Helper()
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: ip})
		req := query("a.example.", true, 0, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cookie})
		if _, err := c.ServeDNS(context.Background(), rec, req); err != nil {
			t.Fatal(err)
		}
		for _, o := range rec.Msg.IsEdns0().Option {
			if oc, ok := o.(*dns.EDNS0_COOKIE); ok {
				return rec.Msg, oc.Cookie
			}
		}
		return rec.Msg, ""
	}
	const client = "0102030405060708"
	_, first := ask(client, "192.0.2.1")
	if len(first) != 48 || first[:16] != client || first[16:18] != "01" || first[18:24] != "000000" {
		t.Fatalf("cookie %q, want the client's and a version 1 server cookie", first)
	}
	if ts := first[24:32]; ts != fmt.Sprintf("%08x", clock.Unix()) {
		t.Errorf("timestamp %s, want now, %08x", ts, clock.Unix())
	}
	if _, again := ask(first, "192.0.2.1"); again != first {
		t.Errorf("a fresh valid cookie came back as %q, want it kept, %q", again, first)
	}
	if _, other := ask(first, "192.0.2.2"); other == first || other[:16] != client {
		t.Errorf("another client address got %q back: a server cookie is for one address", other)
	}
	forged := first[:40] + "00000000"
	if _, got := ask(forged, "192.0.2.1"); got == forged || got != first {
		t.Errorf("a forged server cookie came back as %q, want a new one made now, %q", got, first)
	}
	clock = clock.Add(31 * time.Minute)
	if _, renewed := ask(first, "192.0.2.1"); renewed == first || renewed[24:32] != fmt.Sprintf("%08x", clock.Unix()) {
		t.Errorf("a 31 minutes old cookie came back as %q, want one renewed now", renewed)
	}
	for _, bad := range []string{"01020304050607", "010203040506070809", strings.Repeat("01", 41)} {
		m, got := ask(bad, "192.0.2.1")
		if m.Rcode != dns.RcodeFormatError || got != "" {
			t.Errorf("cookie of %d bytes: %s with cookie %q, want FORMERR without one", len(bad)/2, dns.RcodeToString[m.Rcode], got)
		}
	}
}
