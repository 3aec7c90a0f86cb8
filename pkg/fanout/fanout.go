// Package fanout runs one call per member cluster in parallel, each under its
// own deadline, so that one slow or dead member never holds up the others.
//
// It is kfed's one way of running calls in parallel: Map for calls that each
// return something, Each for work that must be done for every item, and Call
// for a single call that must not outlive its deadline.
package fanout

import (
	"context"
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
//
// Calls start in the order of items. Once ctx ends no more are started, and
// the items left have ctx's error for result.
func Map[T, R any](ctx context.Context, items []T, opts Options, fn func(ctx context.Context, item T) (R, error)) []Result[R] {
	results := make([]Result[R], len(items))
	started := run(ctx, len(items), opts.Concurrency, func(i int) {
		results[i] = Call(ctx, opts.Timeout, func(ctx context.Context) (R, error) {
			return fn(ctx, items[i])
		}, nil)
	})
	for i := started; i < len(items); i++ {
		results[i] = Result[R]{Err: ctx.Err()}
	}
	return results
}

// Each calls fn for every item, at most limit at once (all at once for 0),
// starting them in the order of items, and returns when every call has.
//
// Each takes no context, and calls fn for every item even once the work
// they are part of is cancelled: its callers owe an outcome for each item,
// if only that it was not attempted, and fn is where they say so. Calls
// that may be dropped belong in Map.
func Each[T any](items []T, limit int, fn func(item T)) {
	run(context.Background(), len(items), limit, func(i int) { fn(items[i]) })
}

// run calls do for each index below n, at most limit at once (n for 0),
// in order, and waits for the calls. Once ctx ends it starts no more: it
// returns how many it started.
//
// A goroutine is started only when a slot is free, so that a fan-out over
// thousands of items holds no more goroutines than it runs.
func run(ctx context.Context, n, limit int, do func(i int)) int {
	if limit <= 0 || limit > n {
		limit = n
	}
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range n {
		// A context already ended starts nothing, even with slots free.
		if ctx.Err() != nil {
			return i
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return i
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			do(i)
		}()
	}
	return n
}
