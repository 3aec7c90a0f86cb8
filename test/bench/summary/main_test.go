package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

func TestTotalTime(t *testing.T) {
	got := totalTime(19*time.Minute+30400*time.Millisecond, 20*time.Minute)
	want := report.Target{Name: report.BenchTime, Figure: "19m30s", Target: "< 20m", Met: true}
	if got != want {
		t.Errorf("totalTime = %+v, want %+v", got, want)
	}
	if totalTime(20*time.Minute, 20*time.Minute).Met {
		t.Error("20m against < 20m: met")
	}
	// The whole grid's run is reported beside the goal, not judged by it.
	if full := totalTime(66*time.Minute, 0); full.Name == report.BenchTime || full.Figure != "1h6m0s" || full.Note == "" {
		t.Errorf("a BENCH_SCALE=full run: %+v", full)
	}
}

func TestReadTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), timesFile)
	if err := os.WriteFile(path, []byte("apply 62\n\ndns 85\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parts, err := readTimes(path)
	if err != nil {
		t.Fatal(err)
	}
	got := describeTimes(parts, 167*time.Second)
	if want := "apply 1m2s, dns 1m25s; build, installs and the rest 20s; total 2m47s"; got != want {
		t.Errorf("describeTimes = %q, want %q", got, want)
	}
	if got := describeTimes(nil, time.Minute); got != "build, installs and the rest 1m0s; total 1m0s" {
		t.Errorf("no parts: %q", got)
	}
	if err := os.WriteFile(path, []byte("apply\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readTimes(path); err == nil {
		t.Error("a line without seconds: no error")
	}
	if parts, err := readTimes(filepath.Join(t.TempDir(), "none")); parts != nil || err != nil {
		t.Errorf("missing file: %v, %v", parts, err)
	}
}
