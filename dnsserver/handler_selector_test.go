package dnsserver

import (
	"context"
	"slices"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// TestSelectorSeam checks that the selector decides the order and the
// members, and sees only the healthy members of the level answered.
func TestSelectorSeam(t *testing.T) {
	f := testFed()
	var seen []string
	f.Selector = SelectorFunc(func(_ context.Context, _ request.Request, _ *Service, cands []*ServiceCluster) []*ServiceCluster {
		seen = seen[:0]
		for _, c := range cands {
			seen = append(seen, c.Name)
		}
		// Reverse, and keep two.
		slices.Reverse(cands)
		return cands[:min(2, len(cands))]
	})
	m := new(dns.Msg)
	m.SetQuestion("web"+svc+"ap-northeast-1."+testZone, dns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := f.ServeDNS(context.Background(), rec, m); err != nil {
		t.Fatal(err)
	}
	if want := []string{"eur", "usa", "use2"}; !slices.Equal(seen, want) {
		t.Errorf("selector saw %v, want %v", seen, want)
	}
	var got []string
	for _, rr := range rec.Msg.Answer {
		got = append(got, rr.(*dns.A).A.String())
	}
	if want := []string{"127.0.4.1", "127.0.1.1"}; !slices.Equal(got, want) {
		t.Errorf("answer %v, want %v in the selector's order", got, want)
	}
}
