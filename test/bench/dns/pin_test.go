package main

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestOnCPU(t *testing.T) {
	argv := []string{"dnsperf", "-s", "127.0.0.1"}
	if got := onCPU(-1, argv); !slices.Equal(got, argv) {
		t.Errorf("onCPU(-1) = %v", got)
	}
	if got, want := onCPU(1, argv), []string{"taskset", "--cpu-list", "1", "dnsperf", "-s", "127.0.0.1"}; !slices.Equal(got, want) {
		t.Errorf("onCPU(1) = %v, want %v", got, want)
	}
}

func TestCheckPinning(t *testing.T) {
	if err := checkPinning(-1, -1); err != nil {
		t.Errorf("unpinned: %v", err)
	}
	if err := checkPinning(0, 0); err == nil {
		t.Error("both on CPU 0: no error")
	}
	if err := checkPinning(0, 1<<20); err == nil {
		t.Error("a CPU the machine lacks: no error")
	}
}

func TestPinSelf(t *testing.T) {
	var old unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatal(err)
	}
	restore, err := pinSelf(0)
	if err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil || set.Count() != 1 || !set.IsSet(0) {
		t.Errorf("pinned: affinity %v (%v), want CPU 0 alone", set, err)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if err := unix.SchedGetaffinity(0, &set); err != nil || set != old {
		t.Errorf("restored: affinity %v (%v), want %v", set, err, old)
	}
}
