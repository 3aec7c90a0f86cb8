package main

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// costGrowth bounds the growth of what coredns-fed spends as the
// federation grows: linear or better, with the fit's usual slack.
const costGrowth = 1.1

// measure is one figure of a case, drawn as cost curves.
type measure struct {
	name, unit string
	// maxGrowth bounds the fitted exponent; 0 for none, where growth is
	// not a cost (QPS) or the figure is too noisy on a shared machine to
	// be judged by its slope.
	maxGrowth float64
	value     func(r *scaleResult) float64
}

// scaleMeasures are the measures of every case the curves show.
var scaleMeasures = []measure{
	{"start to ready", "s", costGrowth, func(r *scaleResult) float64 { return r.ready.Seconds() }},
	{"resident memory", "MB", costGrowth, func(r *scaleResult) float64 { return float64(r.end) / 1e6 }},
	{"QPS, global names", "QPS", 0, func(r *scaleResult) float64 { return r.pinned.qps }},
	{"QPS, members' names", "QPS", 0, func(r *scaleResult) float64 { return r.memberPinned.qps }},
	{"change to answer p95", "s", 0, func(r *scaleResult) float64 { return percentile(r.churn, 95).Seconds() }},
	{"probe CPU", "% of a core", 0, func(r *scaleResult) float64 { return 100 * r.probeCPU }},
	{"LB down p95", "s", 0, func(r *scaleResult) float64 { return percentile(r.gone, 95).Seconds() }},
}

// scaleCurves draws each measure two ways: over the members, a curve per
// number of Services per member, and over the Services per member, a
// curve per number of members. A curve needs two cases that ran; skipped
// cases are left out.
func scaleCurves(results []*scaleResult) []report.Curve {
	var ran []*scaleResult
	for _, r := range results {
		if r.skipped == "" {
			ran = append(ran, r)
		}
	}
	var out []report.Curve
	for _, m := range scaleMeasures {
		out = append(out, curvesOver(ran, m, "clusters",
			func(r *scaleResult) (int, int) { return r.services, r.clusters },
			func(services int) string { return report.Thousands(services) + " Services per cluster" })...)
		out = append(out, curvesOver(ran, m, "Services per cluster",
			func(r *scaleResult) (int, int) { return r.clusters, r.services },
			func(clusters int) string {
				if clusters == 1 {
					return "1 cluster"
				}
				return fmt.Sprintf("%d clusters", clusters)
			})...)
	}
	return out
}

// curvesOver returns a curve of m per series: split gives a case's series
// and its x; label names a series. A case without the measure (a value of
// 0, such as churn with one member) is no point. The curves' name says their x as well,
// so that each way of drawing a measure has a chart of its own.
func curvesOver(ran []*scaleResult, m measure, x string, split func(*scaleResult) (series, x int), label func(int) string) []report.Curve {
	points := map[int][]report.Point{}
	var series []int
	for _, r := range ran {
		y := m.value(r)
		if y <= 0 {
			continue
		}
		s, at := split(r)
		if _, ok := points[s]; !ok {
			series = append(series, s)
		}
		points[s] = append(points[s], report.Point{X: float64(at), Y: y})
	}
	slices.Sort(series)
	var out []report.Curve
	for _, s := range series {
		ps := points[s]
		if len(ps) < 2 {
			continue
		}
		slices.SortFunc(ps, func(a, b report.Point) int { return cmp.Compare(a.X, b.X) })
		out = append(out, report.Curve{Name: m.name + " by " + x, Series: label(s), Unit: m.unit, X: x, Points: ps, MaxGrowth: m.maxGrowth})
	}
	return out
}
