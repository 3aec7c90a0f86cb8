package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// reapplyRow is a manifest applied again unchanged, as GitOps loops do
// every few minutes, by kfed and by kubectl on each member in turn.
type reapplyRow struct {
	objects, clusters, rounds int
	kfed                      measured // the median run
	baseline                  time.Duration
}

// Targets of a re-apply: no longer than this, and this many times faster
// than kubectl in turn.
const (
	reapplyTarget  = 500 * time.Millisecond
	reapplySpeedup = 10
)

func (b *bench) measureReapply(n int) (*reapplyRow, error) {
	objects := b.cfg.reapplyObjects
	file, err := b.writeMixed("reapply", objects)
	if err != nil {
		return nil, err
	}
	if _, err := b.k.run("fed", "apply", "-f", file, "--context", "c1"); err != nil {
		return nil, err
	}
	base, err := b.writeMixed("reapply-kubectl", objects)
	if err != nil {
		return nil, err
	}
	inTurn := func() (time.Duration, error) {
		begin := time.Now()
		for _, s := range b.specs[:n] {
			if _, err := b.k.run("apply", "--server-side", "-f", base, "--context", s.Name); err != nil {
				return 0, err
			}
		}
		return time.Since(begin), nil
	}
	if _, err := inTurn(); err != nil {
		return nil, err
	}
	var runs []measured
	var baselines []time.Duration
	for r := 0; r < b.cfg.rounds; r++ {
		m, err := b.timed("fed", "apply", "-f", file, "--context", "c1")
		if err != nil {
			return nil, err
		}
		if err := allUnchanged(m.stdout, objects*n); err != nil {
			return nil, fmt.Errorf("re-apply of %d unchanged objects to %d clusters: %w", objects, n, err)
		}
		runs = append(runs, m)
		took, err := inTurn()
		if err != nil {
			return nil, err
		}
		baselines = append(baselines, took)
	}
	row := &reapplyRow{objects: objects, clusters: n, rounds: b.cfg.rounds, kfed: medianRun(runs), baseline: median(baselines)}
	fmt.Fprintf(os.Stderr, "re-apply of %d objects x %d clusters: kfed %s, kubectl one after another %s\n", objects, n,
		row.kfed.took.Round(time.Millisecond), row.baseline.Round(time.Millisecond))
	return row, nil
}

// allUnchanged checks that a result table has want rows, every one
// unchanged.
func allUnchanged(table string, want int) error {
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) < 1 || !strings.HasPrefix(lines[0], "OBJECT") {
		return fmt.Errorf("no result table in the output:\n%s", table)
	}
	rows := 0
	for _, line := range lines[1:] {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		rows++
		if f[2] != "unchanged" {
			return fmt.Errorf("%s in %s: %s, want unchanged", f[0], f[1], f[2])
		}
	}
	if rows != want {
		return fmt.Errorf("%d result rows, want %d", rows, want)
	}
	return nil
}

func (r *reapplyRow) print() []report.Target {
	fmt.Printf("\nkubectl fed apply of %d unchanged objects to %d clusters again (median of %d), against kubectl apply --server-side of the same on each cluster in turn\n\n",
		r.objects, r.clusters, r.rounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "OBJECTS\tCLUSTERS\tKFED\tKUBECTL IN TURN\tKUBECTL / KFED\tKFED CPU\tPEAK RSS")
	speedup := float64(r.baseline) / float64(r.kfed.took)
	fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%.1fx\t%s\t%s\n", r.objects, r.clusters, r.kfed.took.Round(time.Millisecond), r.baseline.Round(time.Millisecond),
		speedup, r.kfed.cpu.Round(10*time.Millisecond), mib(r.kfed.maxRSS))
	w.Flush()
	fmt.Println("\nEvery row of kfed's output said unchanged: one metadata list per kind and namespace per member told it so.")
	what, note := sized(objectsTo(r.objects, r.clusters), objectsTo(full.reapplyObjects, full.reapplyClusters))
	baseline := fmt.Sprintf("kubectl apply --server-side in turn %s", r.baseline.Round(time.Millisecond))
	return []report.Target{
		{Name: report.ReapplyTime, Case: what, Figure: r.kfed.took.Round(time.Millisecond).String(), Baseline: baseline,
			Target: "<= " + reapplyTarget.String(), Met: r.kfed.took <= reapplyTarget, Note: note},
		{Name: report.ReapplySpeedup, Case: what, Figure: fmt.Sprintf("%.1fx (%s)", speedup, r.kfed.took.Round(time.Millisecond)), Baseline: baseline,
			Target: fmt.Sprintf(">= %dx", reapplySpeedup), Met: speedup >= reapplySpeedup, Note: note},
	}
}
