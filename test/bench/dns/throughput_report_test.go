package main

import (
	"strings"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

func TestThroughputTargets(t *testing.T) {
	b := &bench{opts: options{duration: 10 * time.Second, rounds: 3, serverCPU: 0, clientCPU: 1}}
	results := map[string]*perf{
		srvFed:  {qps: 66000, p50: 100 * time.Microsecond, p99: 400 * time.Microsecond},
		srvGeo:  {qps: 59000, lost: 2},
		srvFile: {qps: 20000},
		srvKnot: {qps: 130000, serverCPU: 0.95},
	}
	got := b.throughputTargets(results)
	want := []struct {
		name, kase string
		met        bool
	}{
		{report.DNSVersusKnot, "policy all", true},       // 0.51x >= 0.5x
		{report.DNSVersusFile, "policy all", true},       // 3.3x >= 3x
		{report.DNSVersusKnot, "policy geo, ECS", false}, // 0.45x
		{report.DNSVersusFile, "policy geo, ECS", false}, // 2.95x
		{report.DNSLost, "policies all and geo, dnsperf and Go client", false},
	}
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Name != w.name || got[i].Case != w.kase || got[i].Met != w.met || got[i].Note != "" {
			t.Errorf("target %d = %+v, want %s (%s) met %v, no note", i, got[i], w.name, w.kase, w.met)
		}
	}
	if f := got[0].Figure; f != "0.51x: 66000 QPS, p50 100µs, p99 400µs" {
		t.Errorf("figure %q", f)
	}
	if got[4].Figure != "2" {
		t.Errorf("lost: figure %q, want 2", got[4].Figure)
	}

	// knotd held back by its load: the note says so, with the ratio per
	// core of server time.
	results[srvFed].serverCPU, results[srvKnot].serverCPU = 1, 0.5
	if n := b.throughputTargets(results)[0].Note; !strings.Contains(n, "knotd used 50% of its core") || !strings.Contains(n, "0.25x for policy all") {
		t.Errorf("knotd not saturated: note %q", n)
	}

	// CoreDNS's own loop below the bound: the note says so.
	results[srvWhoami] = &perf{qps: 52000}
	if n := b.throughputTargets(results)[0].Note; !strings.Contains(n, "whoami, no lookup) gave 52000 QPS, 0.40x knotd") {
		t.Errorf("whoami below the bound: note %q", n)
	}

	// A short or unpinned run says so beside every figure.
	b.opts.duration, b.opts.serverCPU = 2*time.Second, -1
	for _, tg := range b.throughputTargets(results) {
		if !strings.Contains(tg.Note, "short run") || !strings.Contains(tg.Note, "unpinned") {
			t.Errorf("%s: note %q, want it to say short run and unpinned", tg.Name, tg.Note)
		}
	}
}
