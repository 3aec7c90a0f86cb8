package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// The bounds of issue 16 on throughput.
const (
	minOverKnot = 0.5
	minOverFile = 3.0
)

// pinned says where the servers and their load ran.
func (b *bench) pinned() string {
	if b.opts.serverCPU < 0 && b.opts.clientCPU < 0 {
		return "unpinned: servers and load share the machine's cores"
	}
	where := func(cpu int) string {
		if cpu < 0 {
			return "any core"
		}
		return fmt.Sprintf("CPU %d", cpu)
	}
	return fmt.Sprintf("each server pinned to %s; dnsperf, the Go client and the bench (which answers the probes) to %s", where(b.opts.serverCPU), where(b.opts.clientCPU))
}

func (b *bench) printThroughput(results map[string]*perf, ecsOption string) {
	fmt.Printf("\nThroughput: %d names (each a Service in all %d members, %d A records) asked in turn, type A, over UDP to 127.0.0.1;\n",
		len(b.bulk.names), len(b.lab.Clusters), len(b.lab.Clusters))
	fmt.Printf("%s.\n", b.pinned())
	fmt.Printf("fed: coredns-fed with the fed plugin, policy all (every member's address), watching %d Services and probing their %d addresses every second.\n",
		len(b.bulk.names)*len(b.lab.Clusters), min(len(b.bulk.names), bulkAddrs)*len(b.lab.Clusters))
	fmt.Printf("geo: the same with policy geo and a city database, asked with ECS %s/%d (Tokyo; dnsperf -E %s): %s's address alone.\n",
		geoECS.Address, geoECS.SourceNetmask, ecsOption, geoNearest)
	fmt.Printf("file: the same binary with the file plugin and a zone file of the same names and addresses (it adds the NS record and glue).\n")
	fmt.Printf("knotd: Knot DNS %s serving that zone file, one UDP worker.\n", b.knotVersion)
	fmt.Printf("whoami: the same binary with the whoami plugin, which looks nothing up: CoreDNS's server loop alone, the most any plugin can reach.\n")
	fmt.Printf("signed: fed with dnssec (a KSK and a ZSK, ECDSA P-256), asked with the DO bit (dnsperf -D): every answer carries the ZSK's signature, from the cache once made;\n")
	fmt.Printf("measured against fed again (%s) in rounds of their own, once the other servers have stopped.\n", srvSignedBase)
	fmt.Printf("dnsperf %s: %s per run, median of %d interleaved runs per server. CPU: share of one core during the median run;\n",
		b.opts.dnsperfArgs, b.opts.duration, b.opts.rounds)
	fmt.Printf("QPS PER CORE: QPS over SERVER CPU, what a whole core would give: a server below 100%% was held back by its load or by other processes.\n")
	fmt.Printf("Latency percentiles from the bench's Go client: %d queries in flight, one per socket, for %s. LOST: dnsperf's and the Go client's, all runs.\n\n",
		b.opts.clients, b.opts.duration/2)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "SERVER\tQPS\tSERVER CPU\tQPS PER CORE\tDNSPERF CPU\tAVG LATENCY\tLOST\tRESPONSE\t\tGO QPS\tp50\tp95\tp99")
	for _, name := range []string{srvFed, srvGeo, srvFile, srvKnot, srvWhoami, srvSignedBase, srvSigned} {
		p := results[name]
		if p == nil {
			continue
		}
		fmt.Fprintf(w, "%s\t%.0f\t%.0f%%\t%.0f\t%.0f%%\t%.3f ms\t%d\t%d bytes\t\t%.0f\t%s\t%s\t%s\n", name, p.qps, 100*p.serverCPU, p.perCore(), 100*p.clientCPU,
			p.avg*1000, p.lost+p.goLost, p.respSize, p.goQPS, us(p.p50), us(p.p95), us(p.p99))
	}
	ratios := func(a, b string) {
		x, y := results[a], results[b]
		fmt.Fprintf(w, "%s / %s\t%.2fx\t\t%.2fx\t\t%.2fx\t\t\t\t%.2fx\t%.2fx\t%.2fx\t%.2fx\n", a, b, x.qps/y.qps, x.perCore()/y.perCore(), x.avg/y.avg,
			x.goQPS/y.goQPS, report.Ratio(x.p50, y.p50), report.Ratio(x.p95, y.p95), report.Ratio(x.p99, y.p99))
	}
	ratios(srvFed, srvKnot)
	ratios(srvGeo, srvKnot)
	ratios(srvFed, srvFile)
	ratios(srvGeo, srvFile)
	ratios(srvWhoami, srvKnot)
	ratios(srvFed, srvWhoami)
	if results[srvSigned] != nil {
		ratios(srvSigned, srvSignedBase)
	}
	w.Flush()
	idle := 0.0
	for _, p := range results {
		idle = max(idle, p.idleCPU)
	}
	fmt.Printf("\nresponse codes:")
	for _, name := range []string{srvFed, srvGeo, srvFile, srvKnot, srvWhoami, srvSigned} {
		if p := results[name]; p != nil {
			fmt.Printf(" %s %s;", name, p.rcodes)
		}
	}
	fmt.Println()
	fmt.Printf("the idle servers on the server's core took at most %.1f%% of it during any run (coredns-fed keeps watching and probing)\n", 100*idle)
	if n := starvedNote(results); n != "" {
		fmt.Println(n)
	}
	fed, file := results[srvFed].handler, results[srvFile].handler
	fmt.Printf("the plugin's ServeDNS alone, in process, reply packed: fed %s/query (%d allocs), file %s/query (%d allocs)\n",
		time.Duration(fed.NsPerOp()), fed.AllocsPerOp(), time.Duration(file.NsPerOp()), file.AllocsPerOp())
	if s := results[srvSigned]; s != nil {
		fmt.Printf("signed, in process: %s/query (%d allocs) with the signature cache warm; %s/query cold, each of the %d names asked once on a new signer\n",
			time.Duration(s.handler.NsPerOp()), s.handler.AllocsPerOp(), s.cold, len(b.bulk.names))
	}
}

// signedTargets returns issue 17's targets of the throughput part: signed
// against unsigned QPS and p99, and the cost of a cold signature cache.
func signedTargets(results map[string]*perf, note string) []report.Target {
	s, fed := results[srvSigned], results[srvSignedBase]
	if s == nil || fed == nil {
		return nil
	}
	warm := time.Duration(s.handler.NsPerOp())
	return []report.Target{
		{Name: report.SignedQPS, Case: "policy all, DO bit, a KSK and a ZSK of algorithm 13",
			Figure: qpsFigure(s, fed) + fmt.Sprintf(", %d lost", s.lost+s.goLost), Baseline: "unsigned fed " + qpsLatency(fed),
			Target: ">= 0.5x, none lost", Met: s.qps >= 0.5*fed.qps && s.lost+s.goLost == 0, Note: note},
		{Name: report.SignedP99, Case: "Go client, 8 in flight", Figure: fmt.Sprintf("%.2fx: p99 %s", report.Ratio(s.p99, fed.p99), us(s.p99)),
			Baseline: "unsigned fed p99 " + us(fed.p99), Met: true, Note: note},
		{Name: report.ColdSign, Case: "ServeDNS in process, every signature made by the query",
			Figure:   fmt.Sprintf("%s a query, %.0f a second on one core", s.cold.Round(100*time.Nanosecond), float64(time.Second)/float64(max(s.cold, time.Nanosecond))),
			Baseline: fmt.Sprintf("warm cache %s a query", warm), Met: true},
	}
}

// throughputTargets returns issue 16's targets of the throughput part:
// each policy against knotd and against the file plugin, and the queries
// coredns-fed lost.
func (b *bench) throughputTargets(results map[string]*perf) []report.Target {
	note := report.JoinNotes(b.shortNote(), starvedNote(results))
	knot, file := results[srvKnot], results[srvFile]
	var out []report.Target
	lost := 0
	knotNote := note
	if knot.serverCPU < saturated {
		knotNote = report.JoinNotes(note, fmt.Sprintf("knotd used %.0f%% of its core (dnsperf %.0f%% of its own): held back by its load or by other processes, its QPS understates it; per core of server time the ratio is %.2fx for policy all",
			100*knot.serverCPU, 100*knot.clientCPU, results[srvFed].perCore()/knot.perCore()))
	}
	if w := results[srvWhoami]; w != nil && w.qps < minOverKnot*knot.qps {
		knotNote = report.JoinNotes(knotNote, fmt.Sprintf("CoreDNS's server loop alone (whoami, no lookup) gave %.0f QPS, %.2fx knotd: below the bound before any plugin work",
			w.qps, w.qps/knot.qps))
	}
	for _, c := range []struct{ name, label string }{{srvFed, "policy all"}, {srvGeo, "policy geo, ECS"}} {
		p := results[c.name]
		lost += p.lost + p.goLost
		out = append(out,
			report.Target{Name: report.DNSVersusKnot, Case: c.label, Figure: qpsFigure(p, knot), Baseline: "knotd " + qpsLatency(knot),
				Target: fmt.Sprintf(">= %.1fx", minOverKnot), Met: p.qps >= minOverKnot*knot.qps, Note: knotNote},
			report.Target{Name: report.DNSVersusFile, Case: c.label, Figure: qpsFigure(p, file), Baseline: "file " + qpsLatency(file),
				Target: fmt.Sprintf(">= %.0fx", minOverFile), Met: p.qps >= minOverFile*file.qps, Note: note})
	}
	out = append(out, report.Target{Name: report.DNSLost, Case: "policies all and geo, dnsperf and Go client",
		Figure: fmt.Sprint(lost), Target: "0", Met: lost == 0, Note: note})
	return append(out, signedTargets(results, note)...)
}

// recordThroughput records the throughput part's targets for the summary.
func (b *bench) recordThroughput(results map[string]*perf) error {
	return report.Record(b.throughputTargets(results)...)
}

// minJudgedDuration is the shortest dnsperf run whose figure the summary
// judges by: make bench runs 6 s; -short runs 1 s.
const minJudgedDuration = 5 * time.Second

// shortNote warns that a run too short, or unpinned, gives no figure to
// judge by; empty for a full run.
func (b *bench) shortNote() string {
	var why []string
	if b.opts.duration < minJudgedDuration || b.opts.rounds < 3 {
		why = append(why, fmt.Sprintf("a short run (-duration %s -rounds %d) checks the bench; it gives no figure to judge by", b.opts.duration, b.opts.rounds))
	}
	if b.opts.serverCPU < 0 || b.opts.clientCPU < 0 {
		why = append(why, "unpinned")
	}
	return report.JoinNotes(why...)
}

// starvedNote says how many runs were starved of processor time, if any.
func starvedNote(results map[string]*perf) string {
	n := 0
	for _, p := range results {
		n += p.starved
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("in %d dnsperf runs neither the server nor dnsperf used half its core: other processes took the machine, and the median may show it", n)
}

// saturated is the share of its core above which a server is taken to
// have been the bottleneck of its run.
const saturated = 0.9

// perCore is p's throughput per core of server time: QPS over the share
// of its core the server used.
func (p *perf) perCore() float64 {
	if p.serverCPU == 0 {
		return 0
	}
	return p.qps / p.serverCPU
}

// qpsFigure is p's throughput against base's, with its own figures.
func qpsFigure(p, base *perf) string {
	return fmt.Sprintf("%.2fx: %s", p.qps/base.qps, qpsLatency(p))
}

func qpsLatency(p *perf) string {
	return fmt.Sprintf("%.0f QPS, p50 %s, p99 %s", p.qps, us(p.p50), us(p.p99))
}

func us(d time.Duration) string { return d.Round(time.Microsecond).String() }
