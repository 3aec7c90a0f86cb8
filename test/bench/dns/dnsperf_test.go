package main

import "testing"

// dnsperf 2.10's summary, as Debian's package prints it.
const dnsperfSummary = `DNS Performance Testing Tool
Version 2.10.0

[Status] Command line: dnsperf -s 127.0.0.1 -p 56473 -d queries.txt -l 1 -c 2 -q 100
[Status] Testing complete (time limit)

Statistics:

  Queries sent:         94997
  Queries completed:    94990 (99.99%)
  Queries lost:         7 (0.01%)

  Response codes:       NOERROR 94990 (100.00%)
  Average packet size:  request 60, response 108
  Run time (s):         1.001125
  Queries per second:   94890.248470

  Average Latency (s):  0.000680 (min 0.000012, max 0.026270)
  Latency StdDev (s):   0.001205
`

func TestParseDNSPerf(t *testing.T) {
	p, err := parseDNSPerf(dnsperfSummary)
	if err != nil {
		t.Fatal(err)
	}
	if p.qps != 94890.248470 || p.avg != 0.000680 || p.stddev != 0.001205 || p.lost != 7 || p.respSize != 108 || p.rcodes != "NOERROR 94990 (100.00%)" {
		t.Errorf("parseDNSPerf = %+v", p)
	}
	if _, err := parseDNSPerf("[Status] Command line: dnsperf\nError: could not open queries.txt\n"); err == nil {
		t.Error("output without a summary: no error")
	}
}

func TestMedianRun(t *testing.T) {
	runs := []perf{{qps: 30, lost: 1, idleCPU: 0.02}, {qps: 10, lost: 2, starved: 1}, {qps: 20, idleCPU: 0.05}}
	p := medianRun(runs)
	if p.qps != 20 || p.lost != 3 || p.idleCPU != 0.05 || p.starved != 1 {
		t.Errorf("medianRun = qps %v, lost %d, idle %v, starved %d; want 20, 3 (all runs), 0.05 (the most), 1", p.qps, p.lost, p.idleCPU, p.starved)
	}
}
