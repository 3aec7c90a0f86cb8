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

// BenchmarkServeDNS is one A query for a Service of three members, policy
// all, the reply packed as the server packs it: the plugin's own cost per
// query, and its allocations, without the server loop around it.
func BenchmarkServeDNS(b *testing.B) {
	benchServeDNS(b, benchFed(), false)
}

// BenchmarkServeDNSSigned is BenchmarkServeDNS with the DO bit, the zone
// signed: the cost of a signature from the cache.
func BenchmarkServeDNSSigned(b *testing.B) {
	f := benchFed()
	if err := f.SignWith(testKeySet(b)); err != nil {
		b.Fatal(err)
	}
	benchServeDNS(b, f, true)
}

// benchFed serves 1,000 Services in each of three members.
func benchFed() *Fed {
	const services = 1000
	var members []Member
	for c, name := range []string{"usa", "eur", "jpn"} {
		m := Member{Cluster: Cluster{Name: name, Region: name + "-1", Zone: name + "-1a"}}
		for i := range services {
			m.Services = append(m.Services, MemberService{
				Namespace: "shop", Name: fmt.Sprintf("web-%d", i),
				Ports:       []Port{{Name: "http", Protocol: "tcp", Port: 80}},
				EntryPoints: []EntryPoint{{Addr: netip.AddrFrom4([4]byte{127, byte(10 + c), byte(i >> 8), byte(i)}), Healthy: true}},
			})
		}
		members = append(members, m)
	}
	f := New("magicring", []string{"demo.example.com."})
	f.SetIndex(BuildIndex(members, 1))
	return f
}

// benchServeDNS asks f for 64 of its names in turn, with the DO bit when do
// is set.
func benchServeDNS(b *testing.B, f *Fed, do bool) {
	queries := make([]*dns.Msg, 64)
	for i := range queries {
		queries[i] = new(dns.Msg)
		queries[i].SetQuestion(fmt.Sprintf("web-%d.shop.magicring.svc.demo.example.com.", i*13%1000), dns.TypeA)
		queries[i].SetEdns0(1232, do)
	}
	w := &packingWriter{Recorder: dnstest.NewRecorder(&test.ResponseWriter{})}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := f.ServeDNS(ctx, w, queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
	}
	want := 3
	if do {
		want = 4
	}
	if w.Msg == nil || len(w.Msg.Answer) != want {
		b.Fatalf("the last reply has %v, want three A records (and their signature, with DO)", w.Msg)
	}
}

// packingWriter packs every reply, as the server does before it writes.
type packingWriter struct{ *dnstest.Recorder }

func (w *packingWriter) WriteMsg(m *dns.Msg) error {
	w.Msg = m
	_, err := m.Pack()
	return err
}

// BenchmarkServeDNSGeo is one A query with ECS for a Service of three
// members, policy geo with a city database: the plugin's cost per query
// where it locates the client, the reply packed.
func BenchmarkServeDNSGeo(b *testing.B) {
	f := geoFed(b, PolicyGeo, Selection{})
	m := new(dns.Msg)
	m.SetQuestion("web"+svc+testZone, dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}})
	w := &packingWriter{Recorder: dnstest.NewRecorder(&test.ResponseWriter{})}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ServeDNS(ctx, w, m); err != nil {
			b.Fatal(err)
		}
	}
	if w.Msg == nil || len(w.Msg.Answer) != 1 {
		b.Fatalf("the last reply has %v, want one A record, the nearest member's", w.Msg)
	}
}
