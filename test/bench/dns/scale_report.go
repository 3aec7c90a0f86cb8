package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"
)

// The scale part's targets (issue 16).
const (
	readyTarget    = 10 * time.Second
	qpsTarget      = 0.9
	churnTarget    = time.Second
	probeCPUTarget = 0.10
	lbDownSmall    = time.Second
	lbDownAtScale  = 3 * time.Second
)

// printScale prints a row per case, then each target with the figure it
// is judged on: the largest case run, against the baselines of the same
// run.
func printScale(results []*scaleResult, s scaleOptions, clients int) {
	if len(results) == 0 {
		return
	}
	fmt.Printf("\nScale: coredns-fed with its default probes, in labs of minimal clusters (etcd + API server + token controller);\n")
	fmt.Printf("%d endpoints per Service, %d load-balancer addresses per member shared by its Services; churn %d changes/s for %s.\n",
		s.endpoints, s.addrs, s.churn, s.window)
	fmt.Printf("RSS is coredns-fed's resident memory once ready, END after every measure, PEAK its high-water mark;\n")
	fmt.Printf("HEAP is the live Go heap at the end (pprof, as of the last collection); ")
	fmt.Printf("FORMULA is CoreDNS's (pods + services)/1000 + 54 MB, pods being the endpoints.\n")
	fmt.Printf("QPS asks the global names (an address of each member, up to 8), MEMBER QPS the members' own names (one address),\n")
	fmt.Printf("each from a Go client with %d queries in flight; p50 and p99 are the global names' latencies.\n", clients)
	fmt.Printf("CHURN is from an EndpointSlice write to the first answer that shows it: WRITE p95 is the write's own part (the API server's),\n")
	fmt.Printf("AFTER p95 the rest (the watch event, coredns-fed's update of its index, the answer), asking every 20 ms.\n")
	fmt.Printf("PROBE CPU is coredns-fed's processor time over %s with no query and no change, in %% of one core.\n\n", s.window)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "CASE\tLAB START\tLAB RSS\tWRITE\tREADY\tRSS\tEND\tPEAK\tHEAP\tFORMULA\tQPS\tp50\tp99\tMEMBER QPS\tCHURN p50\tCHURN p95\tWRITE p95\tAFTER p95\tUNSEEN\tPROBE CPU\tPROBES/s\tLB DOWN p50\tLB DOWN p95\tBACK p95\tFAILED")
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(w, "%s\tskipped: %s\n", r.scaleCase, r.skipped)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%d MiB\t%s\t%s\t%d MiB\t%d MiB\t%d MiB\t%d MiB\t%d MB\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%.1f%%\t%.0f\t%s\t%s\t%s\t%d\n",
			r.scaleCase, r.labStart.Round(100*time.Millisecond), r.labRSS>>20, r.load.Round(100*time.Millisecond),
			ms(r.ready), r.rss>>20, r.end>>20, r.peak>>20, r.heap>>20, r.formula(s.endpoints)/1e6,
			r.qps.qps, us(r.qps.p50), us(r.qps.p99), r.memberQPS.qps,
			ms(percentile(r.churn, 50)), ms(percentile(r.churn, 95)), ms(percentile(r.writes, 95)), ms(percentile(r.after, 95)), r.churnFailed,
			100*r.probeCPU, r.probes,
			ms(percentile(r.gone, 50)), ms(percentile(r.gone, 95)), ms(percentile(r.back, 95)), r.lbFailed)
	}
	w.Flush()

	large := largest(results)
	if large == nil {
		return
	}
	fmt.Printf("\nTargets, judged on the largest case run (%s) and the baselines of this run:\n\n", large.scaleCase)
	w = tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "TARGET\tFIGURE\tBOUND\tVERDICT")
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(w, "start to ready\t%s\t<= %s\t%s\n", ms(large.ready), readyTarget, verdict(large.ready <= readyTarget))
	fmt.Fprintf(w, "resident memory after the measures (peak %d MB)\t%d MB\t<= %d MB\t%s\n",
		large.peak/1e6, large.end/1e6, large.formula(s.endpoints)/1e6, verdict(large.end <= large.formula(s.endpoints)))
	if base := find(results, qpsBaseline); base != nil && base.qps.qps > 0 && base.memberQPS.qps > 0 {
		ratio := large.memberQPS.qps / base.memberQPS.qps
		fmt.Fprintf(w, "QPS against %s, members' names (one address)\t%.2fx (%.0f / %.0f)\t>= %.1fx\t%s\n",
			qpsBaseline, ratio, large.memberQPS.qps, base.memberQPS.qps, qpsTarget, verdict(ratio >= qpsTarget))
		ratio = large.qps.qps / base.qps.qps
		fmt.Fprintf(w, "QPS against %s, global names (up to %d addresses)\t%.2fx (%.0f / %.0f)\t>= %.1fx\t%s\n",
			qpsBaseline, min(large.clusters, 8), ratio, large.qps.qps, base.qps.qps, qpsTarget, verdict(ratio >= qpsTarget))
	} else {
		fmt.Fprintf(w, "QPS against %s\t-\t>= %.1fx\tno %s case in this run\n", qpsBaseline, qpsTarget, qpsBaseline)
	}
	p95 := percentile(large.churn, 95)
	fmt.Fprintf(w, "change to answer p95 (%.0f changes/s; after the write %s)\t%s\t<= %s\t%s\n",
		large.churnRate, ms(percentile(large.after, 95)), ms(p95), churnTarget, verdict(p95 <= churnTarget && large.churnFailed == 0))
	fmt.Fprintf(w, "probe CPU\t%.1f%%\t<= %.0f%%\t%s\n", 100*large.probeCPU, 100*probeCPUTarget, verdict(large.probeCPU <= probeCPUTarget))
	down := percentile(large.gone, 95)
	fmt.Fprintf(w, "load balancer down p95 at %s\t%s\t<= %s\t%s\n", large.scaleCase, ms(down), lbDownAtScale, verdict(down <= lbDownAtScale && large.lbFailed == 0))
	if small := find(results, failoverBaseline); small != nil {
		down := percentile(small.gone, 95)
		fmt.Fprintf(w, "load balancer down p95 at %s\t%s\t<= %s\t%s\n", failoverBaseline, ms(down), lbDownSmall, verdict(down <= lbDownSmall && small.lbFailed == 0))
	}
	w.Flush()
}

// largest returns the case with the most Services that ran.
func largest(results []*scaleResult) *scaleResult {
	var out *scaleResult
	for _, r := range results {
		if r.skipped == "" && (out == nil || r.clusters*r.services > out.clusters*out.services) {
			out = r
		}
	}
	return out
}

func find(results []*scaleResult, c scaleCase) *scaleResult {
	for _, r := range results {
		if r.skipped == "" && r.scaleCase == c {
			return r
		}
	}
	return nil
}
