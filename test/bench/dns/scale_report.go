package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"
)

// printScale prints a row per case.
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
	fmt.Printf("QPS asks the global names (an address of each member, up to %d), MEMBER QPS the members' own names (one address): dnsperf's median run,\n", scaleMaxAddresses)
	fmt.Printf("coredns-fed pinned to one core and dnsperf to the other; GO QPS and GO MEMBER are a Go client's with %d queries in flight, unpinned,\n", clients)
	fmt.Printf("and p50 and p99 the global names' latencies in its run; the members' control planes are frozen meanwhile.\n")
	fmt.Printf("CHURN is from an EndpointSlice write to the first answer that shows it: WRITE p95 is the write's own part (the API server's),\n")
	fmt.Printf("AFTER p95 the rest (the watch event, coredns-fed's update of its index, the answer), asking every 20 ms.\n")
	fmt.Printf("PROBE CPU is coredns-fed's processor time over %s with no query and no change, in %% of one core.\n\n", s.window)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "CASE\tLAB START\tLAB RSS\tWRITE\tREADY\tRSS\tEND\tPEAK\tHEAP\tFORMULA\tQPS\tMEMBER QPS\tGO QPS\tp50\tp99\tGO MEMBER\tCHURN p50\tCHURN p95\tWRITE p95\tAFTER p95\tUNSEEN\tPROBE CPU\tPROBES/s\tLB DOWN p50\tLB DOWN p95\tBACK p95\tFAILED")
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(w, "%s\tskipped: %s\n", r.scaleCase, r.skipped)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%d MiB\t%s\t%s\t%d MiB\t%d MiB\t%d MiB\t%d MiB\t%d MB\t%.0f\t%.0f\t%.0f\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%.1f%%\t%.0f\t%s\t%s\t%s\t%d\n",
			r.scaleCase, r.labStart.Round(100*time.Millisecond), r.labRSS>>20, r.load.Round(100*time.Millisecond),
			ms(r.ready), r.rss>>20, r.end>>20, r.peak>>20, r.heap>>20, r.formula(s.endpoints)/1e6,
			r.pinned.qps, r.memberPinned.qps, r.qps.qps, us(r.qps.p50), us(r.qps.p99), r.memberQPS.qps,
			pct(r.churn, 50), pct(r.churn, 95), pct(r.writes, 95), pct(r.after, 95), r.churnFailed,
			100*r.probeCPU, r.probes,
			pct(r.gone, 50), pct(r.gone, 95), pct(r.back, 95), r.lbFailed)
	}
	w.Flush()
}

// pct is the p-th percentile of ds, or "-" when nothing was timed, as
// in a case of one member.
func pct(ds []time.Duration, p float64) string {
	if len(ds) == 0 {
		return "-"
	}
	return ms(percentile(ds, p))
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
