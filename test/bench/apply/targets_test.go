package main

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

func TestSized(t *testing.T) {
	if what, note := sized(objectsTo(2000, 20), objectsTo(2000, 20)); what != "2,000 objects to 20 clusters" || note != "" {
		t.Errorf("the issue's size: %q, note %q", what, note)
	}
	if got := objectsTo(50, 1); got != "50 objects to 1 cluster" {
		t.Errorf("one cluster: %q", got)
	}
	_, note := sized(objectsTo(200, 3), objectsTo(2000, 20))
	if want := "sampled: 200 objects to 3 clusters, not the issue's 2,000 objects to 20 clusters"; note != want {
		t.Errorf("a smaller size: note %q, want %q", note, want)
	}
}

// A run is judged against the processor time of the same run spread over
// the machine's cores.
func TestFloorTarget(t *testing.T) {
	cores := time.Duration(runtime.NumCPU())
	for _, c := range []struct {
		took time.Duration
		met  bool
	}{{time.Second, true}, {1150 * time.Millisecond, true}, {1200 * time.Millisecond, false}} {
		got := floorTarget("200 objects to 6 clusters", "", measured{took: c.took, cpu: cores * time.Second})
		if got.Name != report.ApplyFloor || got.Met != c.met || got.Target != "<= 1.15x" {
			t.Errorf("%s over a floor of 1s: %+v, want met %v", c.took, got, c.met)
		}
		if !strings.HasPrefix(got.Baseline, "CPU floor 1s") {
			t.Errorf("baseline %q does not give the floor", got.Baseline)
		}
	}
}

// Every target the parts return is on a goal of the issue, with its bound,
// except diff's, which the issue does not ask for.
func TestPartsTargets(t *testing.T) {
	var got []report.Target
	got = append(got, printFloors(full, []floorRow{{clusters: 1, kfed: measured{took: time.Second, cpu: time.Second}, baseline: 2 * time.Second}})...)
	got = append(got, (&scaleRow{objects: 2000, clusters: 20, run: measured{took: 10 * time.Second, cpu: 10 * time.Second, maxRSS: 400 << 20}}).print()...)
	got = append(got, (&reapplyRow{objects: 200, clusters: 6, rounds: 3, kfed: measured{took: 300 * time.Millisecond}, baseline: 6 * time.Second}).print()...)
	got = append(got, (&getRow{services: 200, clusters: 3, rounds: 1, rows: 600, kfed: measured{took: time.Second, cpu: time.Second}, baseline: 3 * time.Second}).print()...)
	want := []struct {
		name, note string
		met        bool
	}{
		{report.ApplyFloor, "", false},
		{report.ApplyFloor, "", false},
		{report.ApplyMemory, "", false}, // 400 MiB > 300 MiB
		{report.ReapplyTime, "", true},
		{report.ReapplySpeedup, "", true}, // 20x
		{report.GetAll, "sampled: 3 clusters x 200 Services, not the issue's 20 clusters x 2,500 Services", true},
	}
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		// The floor's verdict depends on the machine's cores.
		if g.Name != w.name || g.Note != w.note || (g.Name != report.ApplyFloor && g.Met != w.met) || g.Target == "" {
			t.Errorf("target %d: %+v, want %s, note %q, met %v", i, g, w.name, w.note, w.met)
		}
	}
}
