package main

import (
	"runtime"
	"time"
)

// The Go runtime starts each goroutine with a stack the size of the
// average stack it found in use at the last collection, rounded up to a
// power of two. miekg/dns starts a goroutine for every UDP query, and the
// path of a query through CoreDNS and fed takes about 10 KiB of stack;
// fed's idle goroutines (probe workers, informers, watches) use 1 or 2 KiB
// each and pull the average down, so that every query began with a small
// stack and grew it two or three times, copying it each time. Under
// dnsperf that copying took 16 % of the server's processor (perf record),
// against 5 % for the whoami plugin, which has no idle goroutines.
//
// The stack floor is one parked goroutine whose stack holds stackFloorPer
// bytes for every goroutine of the process: it raises the average so that
// a query's goroutine starts with a 16 KiB stack and never grows it. It
// costs that stack's memory, about 1 MiB for 100 goroutines, and made
// policy all answer 81,000 queries a second instead of 61,000 on one core
// (make bench).

const (
	// stackFloorPer is the stack held per goroutine of the process: with
	// the 1 or 2 KiB the others use, the average lands between 8 and 15
	// KiB, which the runtime rounds up to a 16 KiB starting stack.
	stackFloorPer = 10 << 10
	// stackFloorMost bounds the stack held, whatever the goroutine count.
	stackFloorMost = 16 << 20
	// stackFloorEvery is how often the goroutine count is looked at again:
	// informers and probe workers start after the server does.
	stackFloorEvery = 10 * time.Second
)

// stackFloor keeps a parked goroutine holding want(runtime.NumGoroutine())
// bytes of stack, replacing it when the count has moved by half or more.
// It runs for the life of the process.
func stackFloor() {
	var release chan struct{}
	held := 0
	for {
		if want := stackFloorWant(runtime.NumGoroutine()); resize(held, want) {
			// The new holder parks before the old one returns: the
			// average never drops in between.
			next := make(chan struct{})
			parked := make(chan struct{})
			go holdStack(want/stackFrame, parked, next)
			<-parked
			if release != nil {
				close(release)
			}
			release, held = next, want
		}
		time.Sleep(stackFloorEvery)
	}
}

// stackFloorWant is the stack to hold for a process of n goroutines.
func stackFloorWant(n int) int {
	return min(n*stackFloorPer, stackFloorMost)
}

// resize reports whether the stack held should be replaced by one of want
// bytes: on first use, and when the count has moved by half or more.
func resize(held, want int) bool {
	return held == 0 && want > 0 || want > held*3/2 || want < held/2
}

// stackFrame is the stack each call of holdStack takes, at least.
const stackFrame = 4 << 10

// holdStack calls itself frames deep, each call holding stackFrame bytes,
// says so on parked, and returns once release is closed.
//
//go:noinline
func holdStack(frames int, parked, release chan struct{}) byte {
	var frame [stackFrame]byte
	frame[frames%stackFrame] = byte(frames)
	if frames <= 1 {
		close(parked)
		<-release
		return frame[0]
	}
	return holdStack(frames-1, parked, release) + frame[1]
}
