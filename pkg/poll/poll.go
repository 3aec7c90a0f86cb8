// Package poll waits for a condition read from an API server, telling an
// error worth retrying from one that no wait will cure.
package poll

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TimeoutError is returned by Until when the condition still did not hold
// when the time was up. Last is the last error a check returned, if any,
// which often says why.
type TimeoutError struct {
	After time.Duration
	Last  error
}

func (e *TimeoutError) Error() string {
	if e.Last == nil {
		return fmt.Sprintf("not done after %s", e.After)
	}
	return fmt.Sprintf("not done after %s; the last attempt failed: %v", e.After, e.Last)
}

// Unwrap returns Last, so that errors.Is sees through to it.
func (e *TimeoutError) Unwrap() error { return e.Last }

// Final reports whether waiting cannot cure err: the request was refused
// as Forbidden or Unauthorized, or what is waited for is NotFound. A check
// that expects NotFound (waiting for something to go) handles it itself.
func Final(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) || apierrors.IsNotFound(err)
}

// Until calls check at once and then every interval until it reports done,
// returns an error Final calls final, the context ends, or timeout passes.
// Other errors are retried, and the last one is kept for the TimeoutError.
// A final error is returned as the check returned it, so that its message
// says which it was.
func Until(ctx context.Context, interval, timeout time.Duration, check func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		done, err := check(ctx)
		switch {
		case err == nil:
			return done, nil
		case Final(err):
			return false, err
		}
		last = err
		return false, nil
	})
	switch {
	case err == nil, !wait.Interrupted(err):
		return err
	case ctx.Err() != nil:
		// The caller's context ended, not the timeout.
		if last != nil {
			return fmt.Errorf("%w; the last attempt failed: %v", ctx.Err(), last)
		}
		return ctx.Err()
	}
	return &TimeoutError{After: timeout, Last: last}
}

// IsTimeout reports whether err is Until's TimeoutError.
func IsTimeout(err error) bool {
	var t *TimeoutError
	return errors.As(err, &t)
}
