package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMapOrderAndErrors(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	boom := errors.New("boom")
	res := Map(t.Context(), items, Options{}, func(ctx context.Context, i int) (int, error) {
		if i == 3 {
			return 0, boom
		}
		return i * 10, nil
	})
	for i, r := range res {
		if items[i] == 3 {
			if !errors.Is(r.Err, boom) {
				t.Errorf("item 3: err = %v, want boom", r.Err)
			}
			continue
		}
		if r.Err != nil || r.Value != items[i]*10 {
			t.Errorf("item %d: got %d, %v", items[i], r.Value, r.Err)
		}
	}
}

// TestMapTimeout checks the promise the clusters command relies on: a call
// that hangs, even one that ignores its context, does not hold up the
// others beyond the timeout.
func TestMapTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	begin := time.Now()
	res := Map(t.Context(), []string{"fast", "stuck", "ignores-ctx"}, Options{Timeout: 200 * time.Millisecond},
		func(ctx context.Context, s string) (string, error) {
			switch s {
			case "stuck":
				<-ctx.Done()
				return "", ctx.Err()
			case "ignores-ctx":
				<-release
				return "late", nil
			}
			return "ok", nil
		})
	if took := time.Since(begin); took > time.Second {
		t.Errorf("Map took %s with a timeout of 200ms", took)
	}
	if res[0].Err != nil || res[0].Value != "ok" {
		t.Errorf("fast: %+v", res[0])
	}
	for _, r := range res[1:] {
		if !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a deadline", r.Err)
		}
	}
}

func TestMapConcurrency(t *testing.T) {
	var running, most atomic.Int32
	items := make([]int, 20)
	Map(t.Context(), items, Options{Concurrency: 3}, func(ctx context.Context, _ int) (struct{}, error) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return struct{}{}, nil
	})
	if m := most.Load(); m > 3 || m < 2 {
		t.Errorf("at most %d calls ran at once, want 3", m)
	}
}

// TestMapLeavesNoGoroutine checks that once Map returns, nothing it started
// runs on, when the calls honour their contexts: those past their deadline
// and those cancelled with the parent before they got a slot.
func TestMapLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	items := make([]int, 10)
	res := Map(ctx, items, Options{Concurrency: 2, Timeout: 100 * time.Millisecond}, func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	for i, r := range res {
		if r.Err == nil {
			t.Errorf("call %d succeeded while it should have timed out", i)
		}
	}
}
