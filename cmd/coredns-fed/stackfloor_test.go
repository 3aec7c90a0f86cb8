package main

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

// startingStack collects garbage, after which the runtime sets the stack
// new goroutines start with, and returns that size.
func startingStack(t *testing.T) uint64 {
	t.Helper()
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		t.Fatalf("this Go has no %s metric", s[0].Name)
	}
	return s[0].Value.Uint64()
}

// TestStackFloorRaisesStartingStack checks the floor's point: with many
// idle goroutines, as coredns-fed has, new goroutines start with a small
// stack; with the floor held, they start with 16 KiB, what a query needs.
func TestStackFloorRaisesStartingStack(t *testing.T) {
	idle := make(chan struct{})
	for range 200 {
		go func() { <-idle }()
	}
	defer close(idle)
	if got := startingStack(t); got >= 16<<10 {
		t.Fatalf("with 200 idle goroutines and no floor, goroutines start with %d bytes of stack; the test needs them to start with less than 16 KiB", got)
	}

	want := stackFloorWant(runtime.NumGoroutine())
	parked, release := make(chan struct{}), make(chan struct{})
	go holdStack(want/stackFrame, parked, release)
	<-parked
	if got := startingStack(t); got < 16<<10 || got > 32<<10 {
		t.Errorf("with the floor holding %d bytes, goroutines start with %d bytes of stack, want 16 or 32 KiB", want, got)
	}
	close(release)
}

func TestStackFloorWant(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{0, 0},
		{100, 100 * stackFloorPer},
		{1 << 20, stackFloorMost},
	} {
		if got := stackFloorWant(c.n); got != c.want {
			t.Errorf("stackFloorWant(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestResize(t *testing.T) {
	for _, c := range []struct {
		held, want int
		resize     bool
	}{
		{0, 0, false},
		{0, 1 << 20, true},
		{1 << 20, 1 << 20, false},
		{1 << 20, 1<<20 + 1<<18, false}, // a quarter more
		{1 << 20, 2 << 20, true},
		{1 << 20, 1 << 18, true},
	} {
		if got := resize(c.held, c.want); got != c.resize {
			t.Errorf("resize(%d, %d) = %v, want %v", c.held, c.want, got, c.resize)
		}
	}
}
