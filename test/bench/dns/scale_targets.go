package main

import (
	"fmt"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
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

// issueCase is the size issue 16 judges the scale targets at.
var issueCase = scaleCase{20, 2500}

// scaleTargets returns the scale part's figures as targets of issue 16:
// each judged on the largest case that ran, against the baselines of the
// same run, and the load-balancer-down time of the small case. A run whose
// largest case is not the issue's size says so in each target's note.
func scaleTargets(results []*scaleResult, endpoints int) []report.Target {
	large := largest(results)
	if large == nil {
		return nil
	}
	note := sampledNote(results, large)
	at := large.scaleCase.label()
	var out []report.Target
	add := func(t report.Target) {
		if t.Note == "" {
			t.Note = note
		}
		out = append(out, t)
	}

	add(report.Target{Name: report.ScaleReady, Case: at, Figure: ms(large.ready),
		Baseline: baselineFigure(results, large, qpsBaseline, func(r *scaleResult) string { return ms(r.ready) }),
		Target:   "<= " + readyTarget.String(), Met: large.ready <= readyTarget})

	formula := large.formula(endpoints)
	add(report.Target{Name: report.ScaleMemory, Case: at + ", after every measure",
		Figure:   fmt.Sprintf("%d MB (peak %d MB)", large.end/1e6, large.peak/1e6),
		Baseline: fmt.Sprintf("CoreDNS's formula %d MB", formula/1e6),
		Target:   fmt.Sprintf("<= %d MB", formula/1e6), Met: large.end > 0 && large.end <= formula})

	out = append(out, qpsTargets(results, large, note)...)

	p95 := percentile(large.churn, 95)
	churn := report.Target{Name: report.ScaleChurn, Case: fmt.Sprintf("%s, %.0f changes/s", at, large.churnRate),
		Figure:   fmt.Sprintf("p95 %s of %d changes", ms(p95), len(large.churn)),
		Baseline: "the API server's write, p95 " + ms(percentile(large.writes, 95)),
		Target:   "<= " + churnTarget.String(), Met: len(large.churn) > 0 && p95 <= churnTarget && large.churnFailed == 0}
	if large.churnFailed > 0 {
		churn.Note = fmt.Sprintf("%d changes never showed in the answers within 10s", large.churnFailed)
	}
	add(churn)

	add(report.Target{Name: report.ProbeCPU, Case: at + ", idle",
		Figure: fmt.Sprintf("%.1f%% of a core (%.0f probes/s)", 100*large.probeCPU, large.probes),
		Target: fmt.Sprintf("<= %.0f%% of a core", 100*probeCPUTarget), Met: large.probeCPU <= probeCPUTarget})

	add(lbDownTarget(report.FailoverScale, large, lbDownAtScale))
	if small := find(results, failoverBaseline); small != nil {
		// Judged at its own size: no sampling note.
		out = append(out, lbDownTarget(report.FailoverSmall, small, lbDownSmall))
	}
	return out
}

// qpsTargets compares the largest case's QPS, dnsperf's with the server
// pinned, with the baseline case's, for the members' names (one address
// per answer) and for the global names (an address per member, up to
// scaleMaxAddresses in every case: the same answers as the baseline's).
func qpsTargets(results []*scaleResult, large *scaleResult, note string) []report.Target {
	base := find(results, qpsBaseline)
	if base == nil || base.pinned.qps <= 0 || base.memberPinned.qps <= 0 {
		return []report.Target{{Name: report.ScaleQPS, Case: large.scaleCase.label(), Figure: "no baseline",
			Target: fmt.Sprintf(">= %.1fx", qpsTarget),
			Note:   fmt.Sprintf("the %s case, the baseline, did not run", qpsBaseline.label())}}
	}
	skipped := note
	note = report.JoinNotes(note, "dnsperf's median run, coredns-fed pinned to one core and dnsperf to the other, the members' control planes frozen (scale_quiet.go, scale_pinned.go); p99 is the Go client's, unpinned",
		fmt.Sprintf("in process, with nothing else running, fed's ServeDNS took %s for a member's name and %s for a global name, against %s and %s in %s: %.2fx and %.2fx the baseline's rate",
			large.handler.member, large.handler.global, base.handler.member, base.handler.global, qpsBaseline.label(),
			ratioOf(base.handler.member, large.handler.member), ratioOf(base.handler.global, large.handler.global)))
	var out []report.Target
	for _, q := range []struct {
		what              string
		large, base       perf
		largeLat, baseLat latency
	}{
		{"members' names, one address", large.memberPinned, base.memberPinned, large.memberQPS, base.memberQPS},
		{fmt.Sprintf("global names, up to %d addresses", min(large.clusters, scaleMaxAddresses)), large.pinned, base.pinned, large.qps, base.qps},
	} {
		ratio := q.large.qps / q.base.qps
		t := report.Target{Name: report.ScaleQPS, Case: large.scaleCase.label() + ", " + q.what,
			Figure:   fmt.Sprintf("%.2fx (%.0f QPS, p99 %s)", ratio, q.large.qps, us(q.largeLat.p99)),
			Baseline: fmt.Sprintf("%s %.0f QPS, p99 %s", qpsBaseline.label(), q.base.qps, us(q.baseLat.p99)),
			Target:   fmt.Sprintf(">= %.1fx, none lost", qpsTarget), Met: ratio >= qpsTarget && q.large.lost == 0, Note: note}
		if q.large.lost > 0 {
			t.Note = report.JoinNotes(fmt.Sprintf("dnsperf lost %d queries", q.large.lost), t.Note)
		}
		out = append(out, t)
	}
	lookup := ratioOf(base.handler.member, large.handler.member)
	out = append(out, report.Target{Name: report.ScaleLookup, Case: large.scaleCase.label() + ", members' names, ServeDNS alone",
		Figure:   fmt.Sprintf("%.2fx (%s a query)", lookup, large.handler.member),
		Baseline: fmt.Sprintf("%s %s a query", qpsBaseline.label(), base.handler.member),
		Target:   fmt.Sprintf(">= %.1fx", qpsTarget), Met: lookup >= qpsTarget,
		Note: report.JoinNotes(skipped, "timed before each case's lab starts, on an index of the case's shape: no other program on the machine")})
	return out
}

// lbDownTarget is the p95 of a case's load-balancer-down trials against
// bound; every trial must have seen the answer change.
func lbDownTarget(name string, r *scaleResult, bound time.Duration) report.Target {
	p95 := percentile(r.gone, 95)
	t := report.Target{Name: name, Case: r.scaleCase.label() + ", scale lab",
		Figure: fmt.Sprintf("p95 %s of %d trials", ms(p95), len(r.gone)),
		Target: "<= " + bound.String(), Met: len(r.gone) > 0 && p95 <= bound && r.lbFailed == 0}
	if r.lbFailed > 0 {
		t.Note = fmt.Sprintf("%d trials did not see the answer change within 30s", r.lbFailed)
	}
	return t
}

// sampledNote says why the largest case's figures are not the issue's:
// a smaller grid (-short) or cases skipped for want of memory.
func sampledNote(results []*scaleResult, large *scaleResult) string {
	if large.scaleCase == issueCase {
		return ""
	}
	for _, r := range results {
		if r.skipped != "" && r.clusters*r.services > large.clusters*large.services {
			return fmt.Sprintf("judged at %s: %s was skipped (%s)", large.scaleCase.label(), r.scaleCase.label(), r.skipped)
		}
	}
	return fmt.Sprintf("sampled: judged at %s, the largest case run, not the issue's %s (make bench BENCH_SCALE=full)",
		large.scaleCase.label(), issueCase.label())
}

// baselineFigure formats a figure of the case c, if it ran and is not
// the case judged.
func baselineFigure(results []*scaleResult, judged *scaleResult, c scaleCase, figure func(*scaleResult) string) string {
	if r := find(results, c); r != nil && r != judged {
		return c.label() + " " + figure(r)
	}
	return ""
}

// label is the case as the issue writes it, e.g. "20 x 2,500".
func (c scaleCase) label() string {
	return fmt.Sprintf("%d x %s", c.clusters, report.Thousands(c.services))
}

// ratioOf is the rate of work that takes took against one that takes
// base: base / took, 0 when either is unknown.
func ratioOf(base, took time.Duration) float64 {
	if base <= 0 || took <= 0 {
		return 0
	}
	return float64(base) / float64(took)
}
