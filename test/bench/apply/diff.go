package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
	"github.com/kfed-dev/kfed/test/lab"
)

// diffRow is how long `kubectl fed diff -f` of objects takes against the
// `kubectl fed apply -f` that wrote them, in the same members, and the
// processor time each used, the plugin's and every lab program's.
type diffRow struct {
	objects, clusters, rounds int
	apply, diff               time.Duration
	applyCPU, diffCPU         time.Duration
}

// measureDiff applies objects mixed objects into a fresh namespace and
// diffs the same file right after, rounds times, and keeps the medians.
// The members are those joined so far.
func measureDiff(l *lab.Lab, k kubectl, dir string, objects, rounds int) (*diffRow, error) {
	b := &bench{lab: l, k: k, dir: dir}
	var applies, diffs []measured
	for r := 0; r < rounds; r++ {
		file, err := b.writeMixed(fmt.Sprintf("diff-%d", r), objects)
		if err != nil {
			return nil, err
		}
		apply, err := b.timed("fed", "apply", "-f", file, "--context", "c1")
		if err != nil {
			return nil, err
		}
		// Right after the apply, any difference is a bug in one or the
		// other: diff exits 1 then, and the benchmark stops.
		diff, err := b.timed("fed", "diff", "-f", file, "--context", "c1")
		if err != nil {
			return nil, err
		}
		applies, diffs = append(applies, apply), append(diffs, diff)
		fmt.Fprintf(os.Stderr, "%d objects x 3 clusters: apply %s, diff %s\n", objects, apply.took.Round(time.Millisecond), diff.took.Round(time.Millisecond))
	}
	a, d := medianRun(applies), medianRun(diffs)
	return &diffRow{objects: objects, clusters: 3, rounds: rounds, apply: a.took, diff: d.took, applyCPU: a.cpu, diffCPU: d.cpu}, nil
}

func (d *diffRow) print() []report.Target {
	fmt.Printf("\nkubectl fed diff -f against the kubectl fed apply -f that wrote the same %d mixed objects to %d members (median of %d)\n\n", d.objects, d.clusters, d.rounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "OBJECTS\tCLUSTERS\tAPPLY\tDIFF\tDIFF / APPLY\tAPPLY CPU\tDIFF CPU")
	ratio := float64(d.diff) / float64(d.apply)
	fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%.2fx\t%s\t%s\n", d.objects, d.clusters, d.apply.Round(time.Millisecond), d.diff.Round(time.Millisecond), ratio,
		d.applyCPU.Round(10*time.Millisecond), d.diffCPU.Round(10*time.Millisecond))
	w.Flush()
	fmt.Println("\nCPU is as above: the plugin's and every lab program's, during the median run.")
	// Not one of the goals: the summary lists it after them.
	return []report.Target{{Name: "diff -f / the apply that wrote the same", Case: objectsTo(d.objects, d.clusters),
		Figure: fmt.Sprintf("%.2fx (%s)", ratio, d.diff.Round(time.Millisecond)), Baseline: "apply " + d.apply.Round(time.Millisecond).String(),
		Target: "<= 1x", Met: ratio <= 1}}
}
