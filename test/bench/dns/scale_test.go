package main

import (
	"os"
	"slices"
	"testing"
)

func TestParseCases(t *testing.T) {
	got, err := parseCases("3x100, 20x2500")
	if err != nil || !slices.Equal(got, []scaleCase{{3, 100}, {20, 2500}}) {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "3", "0x100", "61x1", "3x0", "ax1", "3x100,"} {
		if _, err := parseCases(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestKBField(t *testing.T) {
	text := "Name:\tcoredns\nVmHWM:\t  123 kB\nVmRSS:\t    100 kB\n"
	if got := kBField(text, "VmRSS"); got != 100<<10 {
		t.Errorf("VmRSS %d", got)
	}
	if got := kBField(text, "VmSwap"); got != 0 {
		t.Errorf("a missing field reads %d", got)
	}
}

// TestProcReaders reads this process's own figures, as the bench reads
// coredns-fed's.
func TestProcReaders(t *testing.T) {
	if procStatus(os.Getpid(), "VmRSS") <= 0 {
		t.Error("no resident memory read for this process")
	}
}

func TestMeasureHandler(t *testing.T) {
	h, err := measureHandler(scaleCase{clusters: 3, services: 20}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if h.member <= 0 || h.global <= 0 {
		t.Errorf("measureHandler = %+v, want both costs measured", h)
	}
}
