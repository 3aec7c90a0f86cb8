// Command summary prints one table of every target of issue 16, and of
// issue 17's item 5 (signed answers), after the
// benchmarks of `make bench` have run: the figure each part recorded, its
// baseline from the same run, and whether it is met; a target that no
// part measured shows as not run. With -start, it adds the run's own
// total time as a target.
//
// The parts record their targets with package report into the directory
// KFED_BENCH_OUT names; `make bench` sets it and runs this last.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

func main() {
	dir := flag.String("dir", os.Getenv(report.OutDirEnv), "the run's output directory, holding "+report.TargetsFile)
	start := flag.Int64("start", 0, "when the run started, in seconds since the Unix epoch; 0 leaves the total time out")
	limit := flag.Duration("limit", 20*time.Minute, "the bound on the run's total time; 0 for a run no bound applies to, such as BENCH_SCALE=full's whole scale grid")
	flag.Parse()
	if err := run(*dir, *start, *limit, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(dir string, start int64, limit time.Duration, now time.Time) error {
	if dir == "" {
		return fmt.Errorf("no output directory: pass -dir, or set %s as `make bench` does", report.OutDirEnv)
	}
	targets, err := report.ReadTargets(filepath.Join(dir, report.TargetsFile))
	if err != nil {
		return err
	}
	parts, err := readTimes(filepath.Join(dir, timesFile))
	if err != nil {
		return err
	}
	var took time.Duration
	if start > 0 {
		took = now.Sub(time.Unix(start, 0)).Round(time.Second)
		targets = append(targets, totalTime(took, limit))
	}
	fmt.Printf("\nSummary: the targets of issue 16 (scale and speed) and 17.5 (signed answers), figures from %s\n\n", dir)
	if err := report.WriteTable(os.Stdout, report.Goals, targets); err != nil {
		return err
	}
	if start > 0 {
		fmt.Printf("time: %s\n", describeTimes(parts, took))
	}
	return nil
}

// totalTime is the run's time as a target: build, lab and every part.
func totalTime(took, limit time.Duration) report.Target {
	if limit == 0 {
		// Not the goal's: make bench's bound is for its default run, which
		// samples the scale grid.
		return report.Target{Name: report.BenchTime + ", BENCH_SCALE=full", Case: "the issue's whole scale grid",
			Figure: took.Round(time.Second).String(), Target: "reported", Met: true,
			Note: "the 20-minute bound is make bench's with the scale part's sample (BENCH_SCALE=short, the default)"}
	}
	return report.Target{
		Name:   report.BenchTime,
		Figure: took.Round(time.Second).String(),
		Target: "< " + strings.TrimSuffix(limit.String(), "0s"),
		Met:    took < limit,
	}
}
