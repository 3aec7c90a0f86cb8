package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/miekg/dns"
)

// The throughput part's servers, by name: coredns-fed with policy all
// (every member's address) and with policy geo (the nearest member's,
// asked with ECS), the file plugin in the same binary, knotd, the whoami
// plugin in the same binary, CoreDNS's own ceiling, and coredns-fed
// signing (asked with DO).
const (
	srvFed    = "fed"
	srvGeo    = "geo"
	srvFile   = "file"
	srvKnot   = "knotd"
	srvWhoami = "whoami"
	srvSigned = "signed"
)

// throughput measures fed and its baselines on the same names and
// addresses, and returns what prints the table.
func (b *bench) throughput(fed *server) (func(), error) {
	bk := b.bulk
	zone := filepath.Join(b.dir, "bench.example.com.zone")
	queries := filepath.Join(b.dir, "queries.txt")
	if err := bk.writeZone(zone); err != nil {
		return nil, err
	}
	if err := bk.writeQueries(queries); err != nil {
		return nil, err
	}
	// Every server but fed, which the whole run shares, stops with the
	// part.
	var own []*server
	defer func() {
		for _, s := range own {
			s.stop()
		}
	}()
	startReady := func(start func(string) (*server, error)) (*server, error) {
		s, err := start(zone)
		if err != nil {
			return nil, err
		}
		own = append(own, s)
		return s, s.waitReady(30 * time.Second)
	}
	file, err := startReady(b.startFile)
	if err != nil {
		return nil, err
	}
	knot, err := startReady(b.startKnot)
	if err != nil {
		return nil, err
	}
	// whoami answers every name with the client's address: it is checked
	// by its answering at all (waitReady), not by the addresses.
	whoami, err := startReady(b.startWhoami)
	if err != nil {
		return nil, err
	}
	for _, s := range []*server{fed, file, knot} {
		if err := bk.checkAnswers(s); err != nil {
			return nil, fmt.Errorf("%s does not answer as it should: %w", s.name, err)
		}
	}
	progress("fed, file and knotd answer all %d names with the same %d addresses each", len(bk.names), len(b.lab.Clusters))
	geo, err := b.startGeoBench()
	if err != nil {
		return nil, err
	}
	own = append(own, geo)
	progress("coredns-fed (geo) answers all %d names, asked with ECS %s/%d, with %s's address", len(bk.names), geoECS.Address, geoECS.SourceNetmask, geoNearest)
	ecsOption, err := dnsperfECS(geoECS)
	if err != nil {
		return nil, err
	}
	servers := []*server{fed, geo, file, knot, whoami}

	results, err := b.measure(servers, queries, ecsOption)
	if err != nil {
		return nil, err
	}
	// The signed server is measured against fed alone: the others stop.
	for _, s := range own {
		s.stop()
	}
	own = nil
	if err := b.measureSigned(results, fed, queries); err != nil {
		return nil, err
	}
	fedCost, fileCost, err := b.handlerCost(zone)
	if err != nil {
		return nil, err
	}
	results[srvFed].handler, results[srvFile].handler = fedCost, fileCost
	if err := b.recordThroughput(results); err != nil {
		return nil, err
	}
	return func() { b.printThroughput(results, ecsOption) }, nil
}

// measure runs dnsperf against every server, in interleaved rounds, then
// the Go client, and returns each server's figures by name.
func (b *bench) measure(servers []*server, queries, ecsOption string) (map[string]*perf, error) {
	// The geo server is asked from Tokyo: every query carries ECS.
	dnsperfArgs := func(s *server) string {
		switch s.name {
		case srvGeo:
			return b.opts.dnsperfArgs + " -E " + ecsOption
		case srvSigned:
			// The DO bit: the signed server's answers carry signatures.
			return b.opts.dnsperfArgs + " -D"
		}
		return b.opts.dnsperfArgs
	}
	ednsOptions := func(s *server) []dns.EDNS0 {
		if s.name == srvGeo {
			return []dns.EDNS0{geoECS}
		}
		return nil
	}
	// This process, too, runs on the clients' core meanwhile: the Go
	// client, and the listeners that answer coredns-fed's probes, stay
	// off the server's core.
	restore, err := pinSelf(b.opts.clientCPU)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := restore(); err != nil {
			progress("restoring this process's CPU affinity: %v", err)
		}
	}()
	runs := map[string][]perf{}
	for round := range b.opts.rounds {
		// Alternate the order, so that none always runs first.
		order := slices.Clone(servers)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			r, err := dnsperfRun{
				server: s, idle: others(servers, s), queries: queries,
				duration: b.opts.duration, args: dnsperfArgs(s), cpu: b.opts.clientCPU,
			}.run()
			if err != nil {
				return nil, err
			}
			starved := ""
			if r.starved > 0 {
				starved = " (starved of processor time)"
			}
			progress("dnsperf round %d, %s: %.0f QPS, %d lost; server %.0f%% of a core, dnsperf %.0f%%, idle servers %.1f%%%s",
				round+1, s.name, r.qps, r.lost, 100*r.serverCPU, 100*r.clientCPU, 100*r.idleCPU, starved)
			runs[s.name] = append(runs[s.name], r)
		}
	}
	results := map[string]*perf{}
	for _, s := range servers {
		p := medianRun(runs[s.name])
		lat, err := goLatency(s.addr, b.bulk.names, b.opts.clients, b.opts.duration/2, s.name == srvSigned, ednsOptions(s)...)
		if err != nil {
			return nil, err
		}
		p.goQPS, p.p50, p.p95, p.p99, p.goLost = lat.qps, lat.p50, lat.p95, lat.p99, lat.lost
		progress("Go client, %s: %.0f QPS at %d in flight, p50 %s p95 %s p99 %s, %d lost", s.name, lat.qps, b.opts.clients, lat.p50, lat.p95, lat.p99, lat.lost)
		results[s.name] = p
	}
	return results, nil
}

// others returns servers but s.
func others(servers []*server, s *server) []*server {
	var out []*server
	for _, o := range servers {
		if o != s {
			out = append(out, o)
		}
	}
	return out
}
