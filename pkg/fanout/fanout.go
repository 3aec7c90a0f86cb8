// Package fanout runs one call per member cluster in parallel, each under its
// own deadline, so that one slow or dead member never holds up the others.
package fanout

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Options bound a fan-out.
type Options struct {
	// Concurrency is how many calls run at once; 0 means all of them.
	Concurrency int
	// Timeout bounds each call; 0 means only the parent context does.
	Timeout time.Duration
}

// Result is the outcome of one call.
type Result[R any] struct {
	Value R
	Err   error
	// Duration is how long the call ran, or until it was given up.
	Duration time.Duration
}

// Map calls fn for every item, in parallel, and returns the results in the
// order of items.
//
// Each call gets a context that ends at its timeout. Map returns once every
// call has returned or passed its deadline: a call that ignores its context
// is given up at the deadline, its result is reported as a timeout, and
// whatever it returns later is dropped. Map therefore never takes much longer
// than the timeout times the number of rounds that Concurrency imposes.
func Map[T, R any](ctx context.Context, items []T, opts Options, fn func(ctx context.Context, item T) (R, error)) []Result[R] {
	results := make([]Result[R], len(items))
	limit := opts.Concurrency
	if limit <= 0 || limit > len(items) {
		limit = len(items)
	}
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, item := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				results[i] = Result[R]{Err: ctx.Err()}
				return
			}
			defer func() { <-slots }()
			results[i] = call(ctx, item, opts.Timeout, fn)
		}()
	}
	wg.Wait()
	return results
}

func call[T, R any](parent context.Context, item T, timeout time.Duration, fn func(context.Context, T) (R, error)) Result[R] {
	ctx, cancel := parent, context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(parent, timeout)
	}
	defer cancel()
	begin := time.Now()
	done := make(chan Result[R], 1)
	go func() {
		v, err := fn(ctx, item)
		done <- Result[R]{Value: v, Err: err}
	}()
	select {
	case r := <-done:
		r.Duration = time.Since(begin)
		return r
	case <-ctx.Done():
		// Give a call that honours its context a moment to return its own,
		// more telling, error.
		select {
		case r := <-done:
			r.Duration = time.Since(begin)
			return r
		case <-time.After(50 * time.Millisecond):
		}
		err := ctx.Err()
		if timeout > 0 && err == context.DeadlineExceeded && parent.Err() == nil {
			err = fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return Result[R]{Err: err, Duration: time.Since(begin)}
	}
}
