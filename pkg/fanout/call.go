package fanout

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// grace is how long a call that reached its deadline is given to return
// its own error, which tells more than the deadline does.
const grace = 50 * time.Millisecond

// Call runs fn with a context that ends at timeout (0: when ctx does), and
// waits for it no longer than that, and grace: a call that ignores its
// context is given up, and reported as a timeout.
//
// What a call given up returns later is handed to release, if not nil, so
// that what it opened (a watch, a connection) can be closed; an error is
// dropped.
func Call[R any](ctx context.Context, timeout time.Duration, fn func(ctx context.Context) (R, error), release func(R)) Result[R] {
	callCtx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		callCtx, cancel = context.WithTimeout(ctx, timeout)
	}
	defer cancel()
	begin := time.Now()
	done := make(chan Result[R], 1)
	go func() {
		v, err := fn(callCtx)
		done <- Result[R]{Value: v, Err: err}
	}()
	select {
	case r := <-done:
		r.Duration = time.Since(begin)
		return r
	case <-callCtx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case r := <-done:
		r.Duration = time.Since(begin)
		return r
	case <-t.C:
	}
	if release != nil {
		go func() {
			if r := <-done; r.Err == nil {
				release(r.Value)
			}
		}()
	}
	err := callCtx.Err()
	if timeout > 0 && errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %s: %w", timeout, err)
	}
	return Result[R]{Err: err, Duration: time.Since(begin)}
}
