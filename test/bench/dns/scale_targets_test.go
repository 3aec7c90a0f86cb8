package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

func TestGridCases(t *testing.T) {
	got, err := scaleOptions{}.cases()
	if err != nil {
		t.Fatal(err)
	}
	// Issue 16's grid, with both baselines, smallest first.
	want := []scaleCase{{1, 100}, {3, 100}, {5, 100}, {1, 1000}, {10, 100}, {20, 100}, {1, 2500}, {3, 1000},
		{5, 1000}, {10, 1000}, {5, 2500}, {20, 1000}, {10, 2500}, {20, 2500}}
	if !slices.Equal(got, want) {
		t.Errorf("full grid:\n got %v\nwant %v", got, want)
	}
	got, err = scaleOptions{short: true}.cases()
	if want := []scaleCase{{1, 100}, {3, 100}, {5, 100}, {1, 1000}, {3, 1000}, {5, 1000}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("short grid: got %v, %v; want %v", got, err, want)
	}
	got, err = scaleOptions{short: true, clusters: "2", services: "50"}.cases()
	if want := []scaleCase{{2, 50}, {3, 100}, {3, 1000}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("a grid of flags: got %v, %v; want %v", got, err, want)
	}
	// -scale-cases is taken as given.
	got, err = scaleOptions{list: "20x2500,3x100", clusters: "1"}.cases()
	if want := []scaleCase{{20, 2500}, {3, 100}}; err != nil || !slices.Equal(got, want) {
		t.Errorf("-scale-cases: got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []scaleOptions{{clusters: "0"}, {clusters: "61"}, {services: "1,,2"}, {services: "a"}} {
		if _, err := bad.cases(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// result is a case that ran, with figures that scale with its size. A
// case of one member times no churn and no load balancer down, as runCase.
func result(clusters, services int) *scaleResult {
	n := clusters * services
	r := &scaleResult{
		scaleCase: scaleCase{clusters, services},
		ready:     time.Duration(n) * time.Millisecond,
		end:       int64(40e6 + 1000*n), peak: int64(50e6 + 1000*n),
		qps: latency{qps: 40000}, memberQPS: latency{qps: 50000}, pinned: perf{qps: 60000}, memberPinned: perf{qps: 80000}, handler: handlerCost{member: time.Microsecond, global: 2 * time.Microsecond},
		churn: []time.Duration{100 * time.Millisecond}, writes: []time.Duration{10 * time.Millisecond}, churnRate: 50,
		probeCPU: 0.01, probes: 100,
		gone: []time.Duration{500 * time.Millisecond},
	}
	if clusters == 1 {
		r.churn, r.writes, r.gone = nil, nil, nil
	}
	return r
}

func TestScaleTargets(t *testing.T) {
	results := []*scaleResult{result(3, 100), result(3, 1000), {scaleCase: scaleCase{20, 2500}, skipped: "no memory"}}
	got := scaleTargets(results, 5)
	names := map[string]int{}
	for _, tg := range got {
		names[tg.Name]++
		if tg.Name == report.FailoverSmall {
			if tg.Note != "" || tg.Case != "3 x 100, scale lab" {
				t.Errorf("the small case is judged at its own size: %+v", tg)
			}
			continue
		}
		if !strings.HasPrefix(tg.Case, "3 x 1,000") || !strings.Contains(tg.Note, "20 x 2,500 was skipped") {
			t.Errorf("judged on the largest case run, and says why: %+v", tg)
		}
		if !tg.Met {
			t.Errorf("not met: %+v", tg)
		}
	}
	for name, want := range map[string]int{report.ScaleReady: 1, report.ScaleMemory: 1, report.ScaleQPS: 2, report.ScaleChurn: 1,
		report.ProbeCPU: 1, report.FailoverScale: 1, report.FailoverSmall: 1} {
		if names[name] != want {
			t.Errorf("%d targets of %q, want %d", names[name], name, want)
		}
	}

	// Without the baseline, QPS has none to be judged against.
	got = scaleTargets([]*scaleResult{result(20, 2500)}, 5)
	for _, tg := range got {
		if tg.Name == report.ScaleQPS && (tg.Met || tg.Figure != "no baseline") {
			t.Errorf("QPS without a baseline: %+v", tg)
		}
		if tg.Name == report.ScaleReady && (tg.Met || tg.Note != "") {
			t.Errorf("50 s to ready at the issue's size: %+v", tg)
		}
	}
	if got := scaleTargets([]*scaleResult{{scaleCase: scaleCase{3, 100}, skipped: "no"}}, 5); got != nil {
		t.Errorf("no case ran, yet %+v", got)
	}
}

func TestScaleCurves(t *testing.T) {
	var results []*scaleResult
	for _, c := range []scaleCase{{1, 100}, {3, 100}, {1, 1000}, {3, 1000}, {5, 1000}} {
		results = append(results, result(c.clusters, c.services))
	}
	results = append(results, &scaleResult{scaleCase: scaleCase{20, 1000}, skipped: "no memory"})
	curves := scaleCurves(results)
	// Per measure: 100 and 1,000 Services per cluster over clusters; 1
	// and 3 clusters over Services (5 clusters has one case). Churn and
	// load balancer down have no point at one member: 1,000 Services
	// over clusters and 3 clusters over Services are left.
	if want := 4*(len(scaleMeasures)-2) + 2*2; len(curves) != want {
		t.Fatalf("%d curves, want %d", len(curves), want)
	}
	fits, err := report.WriteCurves(t.TempDir(), curves)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fits {
		if f.Err != nil {
			t.Errorf("%s, %s: %v", f.Name, f.Series, f.Err)
		}
		// Ready grows with the Services in all, linearly.
		if f.Name == "start to ready by clusters" && f.Series == "1,000 Services per cluster" {
			if f.Points != 3 || f.Exponent < 0.99 || f.Exponent > 1.01 {
				t.Errorf("ready over clusters: %+v", f)
			}
			if tg, ok := f.Target(); !ok || !tg.Met {
				t.Errorf("linear ready is within the bound: %+v", tg)
			}
		}
	}
}
