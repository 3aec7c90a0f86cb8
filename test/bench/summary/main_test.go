package main

import (
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
}
