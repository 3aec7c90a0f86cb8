package main

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/dnsserver"
)

// handlerCost is what one query costs fed's ServeDNS alone, in this
// process, on an index of a case's shape: a lookup's own cost, which no
// other program on the machine changes. A member's name answers one
// address; a global name an address of each member, up to the cap.
type handlerCost struct {
	member, global time.Duration
}

// measureHandler builds an index of c's shape, each Service with its
// address among addrs per member as the scale lab gives them, and times
// ServeDNS on the names the QPS runs ask.
func measureHandler(c scaleCase, addrs int) (handlerCost, error) {
	members := make([]dnsserver.Member, c.clusters)
	for m := range members {
		members[m].Cluster = dnsserver.Cluster{Name: fmt.Sprintf("m%02d", m), Region: "r", Zone: "z"}
		members[m].Services = make([]dnsserver.MemberService, c.services)
		for i := range c.services {
			members[m].Services[i] = dnsserver.MemberService{
				Namespace: scaleNS, Name: scaleName(i),
				Ports:       []dnsserver.Port{{Name: "http", Protocol: "tcp", Port: scalePort}},
				EntryPoints: []dnsserver.EntryPoint{{Addr: netip.AddrFrom4([4]byte{10, byte(m), 0, byte(i % addrs)}), Healthy: true}},
			}
		}
	}
	f := dnsserver.New(federation, []string{domain})
	f.MaxAddresses = scaleMaxAddresses
	f.SetIndex(dnsserver.BuildIndex(members, 1))

	timeNames := func(name func(i int) string, answers int) (time.Duration, error) {
		// Names spread over the zone, as the Go client asks them.
		queries := make([]*dns.Msg, min(c.services, 1024))
		for i := range queries {
			queries[i] = new(dns.Msg)
			queries[i].SetQuestion(name(i*7919%c.services), dns.TypeA)
		}
		w := &packWriter{Recorder: dnstest.NewRecorder(&test.ResponseWriter{})}
		if _, err := f.ServeDNS(context.Background(), w, queries[0]); err != nil || w.Msg == nil || len(w.Msg.Answer) != answers {
			return 0, fmt.Errorf("in process, fed answered %s with %v (%v), want %d addresses", queries[0].Question[0].Name, w.Msg, err, answers)
		}
		res := testing.Benchmark(func(b *testing.B) {
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				_, _ = f.ServeDNS(ctx, w, queries[i%len(queries)])
			}
		})
		return time.Duration(res.NsPerOp()), nil
	}
	var h handlerCost
	var err error
	if h.member, err = timeNames(func(i int) string { return clusterName("m00", i) }, 1); err != nil {
		return h, err
	}
	h.global, err = timeNames(globalName, min(c.clusters, f.MaxAddresses))
	return h, err
}
