package main

import (
	"context"
	"os"
	"testing"

	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/dnsserver"
)

// handlerCost times the two plugins' ServeDNS alone, in this process, on
// the same names and addresses as the servers: no sockets, no server
// around them, the reply packed as the server would. It tells how much of
// a query's cost is the plugin's.
func (b *bench) handlerCost(zoneFile string) (fed, zone testing.BenchmarkResult, err error) {
	f := dnsserver.New(federation, []string{domain})
	f.SetIndex(dnsserver.BuildIndex(b.bulkMembers(), 1))

	r, err := os.Open(zoneFile)
	if err != nil {
		return fed, zone, err
	}
	defer r.Close()
	z, err := file.Parse(r, domain, zoneFile, 0)
	if err != nil {
		return fed, zone, err
	}
	fp := file.File{Zones: file.Zones{Z: map[string]*file.Zone{domain: z}, Names: []string{domain}}}

	queries := make([]*dns.Msg, len(b.bulk.names))
	for i, name := range b.bulk.names {
		queries[i] = new(dns.Msg)
		queries[i].SetQuestion(name, dns.TypeA)
	}
	run := func(h interface {
		ServeDNS(context.Context, dns.ResponseWriter, *dns.Msg) (int, error)
	}) testing.BenchmarkResult {
		return testing.Benchmark(func(tb *testing.B) {
			w := &packWriter{Recorder: dnstest.NewRecorder(&test.ResponseWriter{})}
			ctx := context.Background()
			tb.ReportAllocs()
			for i := 0; tb.Loop(); i++ {
				_, _ = h.ServeDNS(ctx, w, queries[i%len(queries)])
			}
		})
	}
	return run(f), run(fp), nil
}

// bulkMembers are the lab's members as the index sees them, each with
// every bulk name.
func (b *bench) bulkMembers() []dnsserver.Member {
	var members []dnsserver.Member
	for _, c := range b.lab.Clusters {
		m := dnsserver.Member{Cluster: dnsserver.Cluster{Name: c.Name, Region: c.Region, Zone: c.Zone}}
		for i := range b.bulk.names {
			m.Services = append(m.Services, dnsserver.MemberService{
				Namespace:   bulkNS,
				Name:        bulkName(i),
				Ports:       []dnsserver.Port{{Name: "http", Protocol: "tcp", Port: bulkPort}},
				EntryPoints: []dnsserver.EntryPoint{{Addr: bulkAddr(c.LoadBalancerPool, i), Healthy: true}},
			})
		}
		members = append(members, m)
	}
	return members
}

// packWriter packs every reply, as the server does before it writes one.
type packWriter struct{ *dnstest.Recorder }

func (w *packWriter) WriteMsg(m *dns.Msg) error {
	w.Msg = m
	_, err := m.Pack()
	return err
}
