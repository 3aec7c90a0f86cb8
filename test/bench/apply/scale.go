package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// scaleRow is one large apply: many objects to every member of the lab,
// once, with the plugin's peak memory. Its baseline is the CPU floor of
// the same run: kubectl applying that many objects to each member in turn
// would take longer than the rest of the benchmark.
type scaleRow struct {
	objects, clusters int
	run               measured
}

// maxRSSTarget bounds the plugin's peak memory at scale.
const maxRSSTarget = 300 << 20

func (b *bench) measureScale(n int) (*scaleRow, error) {
	file, err := b.writeMixed("scale", b.cfg.scaleObjects)
	if err != nil {
		return nil, err
	}
	m, err := b.timed("fed", "apply", "-f", file, "--context", "c1")
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "%d objects x %d clusters: kfed %s (floor %s), peak RSS %s\n", b.cfg.scaleObjects, n,
		m.took.Round(time.Millisecond), floor(m.cpu).Round(time.Millisecond), mib(m.maxRSS))
	return &scaleRow{objects: b.cfg.scaleObjects, clusters: n, run: m}, nil
}

func (s *scaleRow) print() []report.Target {
	fmt.Printf("\nkubectl fed apply of %d mixed objects to %d clusters (one run), against the CPU floor of the same run\n\n", s.objects, s.clusters)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "OBJECTS\tCLUSTERS\tWRITES\tKFED\tKFED CPU\tCPU FLOOR\tKFED / FLOOR\tPEAK RSS")
	fl := floor(s.run.cpu)
	ratio := float64(s.run.took) / float64(fl)
	fmt.Fprintf(w, "%d\t%d\t%d\t%s\t%s\t%s\t%.2fx\t%s\n", s.objects, s.clusters, s.objects*s.clusters, s.run.took.Round(time.Millisecond),
		s.run.cpu.Round(10*time.Millisecond), fl.Round(time.Millisecond), ratio, mib(s.run.maxRSS))
	w.Flush()
	what, note := sized(objectsTo(s.objects, s.clusters), objectsTo(full.scaleObjects, full.steps[len(full.steps)-1]))
	return []report.Target{
		floorTarget(what, note, s.run),
		{Name: report.ApplyMemory, Case: what, Figure: "peak RSS " + mib(s.run.maxRSS),
			Target: "<= " + mib(maxRSSTarget), Met: s.run.maxRSS <= maxRSSTarget, Note: note},
	}
}
