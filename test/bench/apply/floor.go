package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// floorRow is one line of the floor table: kfed and kubectl applying the
// same objects to n members.
type floorRow struct {
	clusters int
	kfed     measured // the median run
	baseline time.Duration
}

// floor is how long the processor time of a run takes on this machine's
// cores with nothing idle: no fan-out can beat it.
func floor(cpu time.Duration) time.Duration {
	return cpu / time.Duration(runtime.NumCPU())
}

// floorBound is the bound on kfed's time over the floor.
const floorBound = 1.15

// floorTarget judges a kfed run against the CPU floor of the same run.
func floorTarget(what, note string, m measured) report.Target {
	fl := floor(m.cpu)
	ratio := float64(m.took) / float64(fl)
	return report.Target{Name: report.ApplyFloor, Case: what,
		Figure:   fmt.Sprintf("%.2fx (%s)", ratio, m.took.Round(time.Millisecond)),
		Baseline: fmt.Sprintf("CPU floor %s (%s of processor time on %d cores)", fl.Round(time.Millisecond), m.cpu.Round(10*time.Millisecond), runtime.NumCPU()),
		Target:   fmt.Sprintf("<= %.2fx", floorBound), Met: ratio <= floorBound, Note: note}
}

// measureFloor applies cfg.objects mixed objects into a fresh namespace
// with each tool, cfg.rounds times, with n members joined.
func (b *bench) measureFloor(n int) (floorRow, error) {
	var runs []measured
	var baselines []time.Duration
	for r := 0; r < b.cfg.rounds; r++ {
		file, err := b.writeMixed(fmt.Sprintf("fed-%d-%d", n, r), b.cfg.objects)
		if err != nil {
			return floorRow{}, err
		}
		m, err := b.timed("fed", "apply", "-f", file, "--context", "c1")
		if err != nil {
			return floorRow{}, err
		}
		runs = append(runs, m)

		if file, err = b.writeMixed(fmt.Sprintf("kubectl-%d-%d", n, r), b.cfg.objects); err != nil {
			return floorRow{}, err
		}
		begin := time.Now()
		for _, s := range b.specs[:n] {
			if _, err := b.k.run("apply", "--server-side", "-f", file, "--context", s.Name); err != nil {
				return floorRow{}, err
			}
		}
		baselines = append(baselines, time.Since(begin))
	}
	row := floorRow{clusters: n, kfed: medianRun(runs), baseline: median(baselines)}
	fmt.Fprintf(os.Stderr, "%d clusters: kfed %s (floor %s), kubectl one after another %s\n", n,
		row.kfed.took.Round(time.Millisecond), floor(row.kfed.cpu).Round(time.Millisecond), row.baseline.Round(time.Millisecond))
	return row, nil
}

// writeMixed writes n mixed objects in namespace ns to a file of the run.
func (b *bench) writeMixed(ns string, n int) (string, error) {
	file := filepath.Join(b.dir, ns+".yaml")
	return file, os.WriteFile(file, []byte(mixed(ns, n)), 0o600)
}

func printFloors(cfg config, rows []floorRow) []report.Target {
	fmt.Printf("\nkubectl fed apply of %d mixed objects (median of %d), against kubectl apply --server-side on each cluster in turn\n\n", cfg.objects, cfg.rounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTERS\tKFED\tKUBECTL IN TURN\tKFED / KFED@1\tKUBECTL / KFED\tKFED CPU\tCPU FLOOR\tKFED / FLOOR\tPEAK RSS")
	var out []report.Target
	for _, r := range rows {
		fl := floor(r.kfed.cpu)
		ratio := float64(r.kfed.took) / float64(fl)
		fmt.Fprintf(w, "%d\t%s\t%s\t%.2fx\t%.2fx\t%s\t%s\t%.2fx\t%s\n", r.clusters, r.kfed.took.Round(time.Millisecond), r.baseline.Round(time.Millisecond),
			float64(r.kfed.took)/float64(rows[0].kfed.took), float64(r.baseline)/float64(r.kfed.took),
			r.kfed.cpu.Round(10*time.Millisecond), fl.Round(time.Millisecond), ratio, mib(r.kfed.maxRSS))
		what, note := sized(objectsTo(cfg.objects, r.clusters), objectsTo(full.objects, r.clusters))
		out = append(out, floorTarget(what, note, r.kfed))
	}
	w.Flush()
	fmt.Printf("\nKFED CPU is the processor time of the plugin and of every lab program (API servers, etcds) during the median kfed run;\n"+
		"CPU FLOOR is that time spread over this machine's %d cores. PEAK RSS is the plugin's.\n", runtime.NumCPU())
	return out
}

func mib(bytes int64) string {
	return fmt.Sprintf("%d MiB", bytes>>20)
}
