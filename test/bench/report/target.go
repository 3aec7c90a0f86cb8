// Package report collects what the benchmarks of `make bench` measure: the
// targets of the issue they answer, each with its figure and the baseline
// it was measured against in the same run, and cost curves, written as CSV
// and PNG with the fitted growth of each measure.
//
// The benchmarks are separate programs run one after another, so targets
// travel through a file: Record appends to targets.jsonl in the directory
// that KFED_BENCH_OUT names (`make bench` sets it), and the summary program
// (test/bench/summary) reads them all back and prints one table.
package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OutDirEnv names the environment variable that holds the directory of a
// `make bench` run's output: targets.jsonl, CSV files and charts.
const OutDirEnv = "KFED_BENCH_OUT"

// TargetsFile is the name of the file, in the output directory, that
// Record appends to.
const TargetsFile = "targets.jsonl"

// Target is one target and what a run measured of it. The strings are
// shown as they are: a part formats its own figures, with their units.
type Target struct {
	// Name says what is measured; for the targets of issue 16 it is one
	// of the names in Goals, so that the summary puts the figure on the
	// goal's row.
	Name string `json:"name"`
	// Case tells several figures of one target apart, such as
	// "policy geo, ECS" or "12 clusters". It may be empty.
	Case string `json:"case,omitempty"`
	// Figure is the measured value, e.g. "0.62x (81,204 QPS)".
	Figure string `json:"figure"`
	// Baseline is what Figure was compared with, measured in the same
	// run, e.g. "knotd 131,000 QPS". It may be empty for an absolute
	// target.
	Baseline string `json:"baseline,omitempty"`
	// Target is the bound, e.g. ">= 0.5x". Empty means a figure reported
	// without a bound; the summary then takes the goal's, if any.
	Target string `json:"target,omitempty"`
	// Met says whether Figure meets Target.
	Met bool `json:"met"`
	// Note says what the reader should know beside the figure: a sampled
	// (-short) run, or why the machine cannot meet the bound.
	Note string `json:"note,omitempty"`
}

var (
	mu       sync.Mutex
	recorded []Target

	outDirOnce sync.Once
	outDir     string
	outDirErr  error
)

// OutDir returns the directory a bench writes its files into, such as its
// cost curves: KFED_BENCH_OUT's, or, for a bench run on its own, one new
// directory under the system's temporary one, the same for every call.
func OutDir() (string, error) {
	outDirOnce.Do(func() {
		if outDir = os.Getenv(OutDirEnv); outDir != "" {
			outDirErr = os.MkdirAll(outDir, 0o755)
			return
		}
		outDir, outDirErr = os.MkdirTemp("", "kfed-bench-out-")
	})
	return outDir, outDirErr
}

// Record keeps targets for Recorded and, when KFED_BENCH_OUT is set,
// appends them to its targets file for the summary of the whole run.
func Record(targets ...Target) error {
	mu.Lock()
	defer mu.Unlock()
	recorded = append(recorded, targets...)
	dir := os.Getenv(OutDirEnv)
	if dir == "" {
		return nil
	}
	return appendTargets(filepath.Join(dir, TargetsFile), targets)
}

// Recorded returns the targets this process has recorded, in order.
func Recorded() []Target {
	mu.Lock()
	defer mu.Unlock()
	return append([]Target(nil), recorded...)
}

// appendTargets appends targets to path, one JSON object a line.
func appendTargets(path string, targets []Target) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("recording bench targets: %w", err)
	}
	enc := json.NewEncoder(f)
	for _, t := range targets {
		if err := enc.Encode(t); err != nil {
			f.Close()
			return fmt.Errorf("recording bench targets in %s: %w", path, err)
		}
	}
	return f.Close()
}

// ReadTargets reads a targets file that Record wrote. A missing file is
// no targets: no part recorded any.
func ReadTargets(path string) ([]Target, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeTargets(f, path)
}

func decodeTargets(r io.Reader, path string) ([]Target, error) {
	var out []Target
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var t Target
		if err := json.Unmarshal(sc.Bytes(), &t); err != nil {
			return nil, fmt.Errorf("%s:%d: not a recorded target (%v); delete the file and run the bench again", path, line, err)
		}
		out = append(out, t)
	}
	return out, sc.Err()
}

// Thousands writes n as the issue writes sizes, with a comma between
// groups of three digits: 2500 is "2,500".
func Thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// JoinNotes joins the notes that are not empty into one Note, each after
// the last, separated by semicolons.
func JoinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// Ratio is a / b, or 0 when b is: how many times one duration is another.
func Ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
