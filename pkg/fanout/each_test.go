package fanout

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// peak tracks the most calls running at once.
type peak struct{ running, most atomic.Int32 }

func (p *peak) enter() {
	n := p.running.Add(1)
	for {
		m := p.most.Load()
		if n <= m || p.most.CompareAndSwap(m, n) {
			return
		}
	}
}

func (p *peak) leave() { p.running.Add(-1) }

func TestEachVisitsEveryItemOnce(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, limit := range []int{0, 1, 3, 64, 1000} {
		visits := make([]atomic.Int32, 200)
		items := make([]int, len(visits))
		for i := range items {
			items[i] = i
		}
		var p peak
		Each(items, limit, func(i int) {
			p.enter()
			defer p.leave()
			visits[i].Add(1)
			time.Sleep(time.Millisecond)
		})
		for i := range visits {
			if n := visits[i].Load(); n != 1 {
				t.Errorf("limit %d: item %d visited %d times", limit, i, n)
			}
		}
		if limit > 0 && int(p.most.Load()) > limit {
			t.Errorf("limit %d: %d calls ran at once", limit, p.most.Load())
		}
		if p.running.Load() != 0 {
			t.Errorf("limit %d: Each returned with %d calls running", limit, p.running.Load())
		}
	}
}

// TestEachAllAtOnce checks that a limit of 0 runs every call at once: each
// waits for all the others to have started.
func TestEachAllAtOnce(t *testing.T) {
	var started sync.WaitGroup
	started.Add(10)
	done := make(chan struct{})
	go func() {
		Each(make([]int, 10), 0, func(int) {
			started.Done()
			started.Wait()
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("calls did not all run at once")
	}
}

func TestEachStartsInOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	Each([]string{"a", "b", "c", "d"}, 1, func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	})
	if got := len(order); got != 4 || order[0] != "a" || order[1] != "b" || order[2] != "c" || order[3] != "d" {
		t.Errorf("order = %v, want [a b c d]", order)
	}
}

// TestMapCancel cancels a fan-out half way: the calls running see their
// context end, those not started are never called and report the
// cancellation, and nothing is left running.
func TestMapCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithCancel(t.Context())
	var calls atomic.Int32
	items := make([]int, 10)
	for i := range items {
		items[i] = i
	}
	res := Map(ctx, items, Options{Concurrency: 2}, func(ctx context.Context, i int) (int, error) {
		if calls.Add(1) == 4 {
			cancel()
		}
		if i < 2 {
			return i, nil
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if n := calls.Load(); n < 4 || n > 5 {
		t.Errorf("%d calls made, want the 4 before the cancel and at most one more", n)
	}
	for i, r := range res {
		if i < 2 {
			if r.Err != nil || r.Value != i {
				t.Errorf("item %d: %+v, want it done before the cancel", i, r)
			}
			continue
		}
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("item %d: err = %v, want the cancellation", i, r.Err)
		}
	}
}

// TestMapCancelledBefore starts nothing with a context already ended.
func TestMapCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := Map(ctx, make([]int, 5), Options{}, func(context.Context, int) (int, error) {
		t.Error("called with the context ended")
		return 0, nil
	})
	for i, r := range res {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("item %d: err = %v, want the cancellation", i, r.Err)
		}
	}
}

// TestMapHoldsFewGoroutines checks that items waiting for a slot hold no
// goroutine.
func TestMapHoldsFewGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	var most atomic.Int32
	Map(t.Context(), make([]int, 500), Options{Concurrency: 4}, func(context.Context, int) (struct{}, error) {
		if n := int32(runtime.NumGoroutine() - base); n > most.Load() {
			most.Store(n)
		}
		return struct{}{}, nil
	})
	// Each call runs in a goroutine of its own besides its slot's, so
	// that it can be given up.
	if m := most.Load(); m > 20 {
		t.Errorf("%d goroutines for 4 calls at once", m)
	}
}

// TestCallReleasesLateValue checks that what a call given up returns
// later is handed over to be released.
func TestCallReleasesLateValue(t *testing.T) {
	late := make(chan struct{})
	released := make(chan string, 1)
	r := Call(t.Context(), 50*time.Millisecond, func(context.Context) (string, error) {
		<-late
		return "watch", nil
	}, func(s string) { released <- s })
	if !errors.Is(r.Err, context.DeadlineExceeded) || r.Err.Error() != "no answer within 50ms: context deadline exceeded" {
		t.Errorf("err = %v, want a timeout", r.Err)
	}
	close(late)
	select {
	case s := <-released:
		if s != "watch" {
			t.Errorf("released %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the late value was not released")
	}
}
