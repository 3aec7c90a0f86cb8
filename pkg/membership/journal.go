package membership

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// journal records how to undo each change a join makes, so that a failed
// join leaves neither side half-joined.
type journal struct {
	entries []undo
}

type undo struct {
	// side is "member" or "host"; what names the object, as kubectl would.
	side, what string
	// fn undoes the change; NotFound counts as done.
	fn func(ctx context.Context) error
}

func (j *journal) add(side, what string, fn func(ctx context.Context) error) {
	j.entries = append(j.entries, undo{side: side, what: what, fn: fn})
}

// changes returns the descriptions of what was changed, in order.
func (j *journal) changes() []string {
	out := make([]string, 0, len(j.entries))
	for _, e := range j.entries {
		out = append(out, e.what)
	}
	return out
}

// rollback undoes every change, last first. A member or host that stops
// answering is retried, with backoff, until budget runs out: an outage of a
// few seconds during a join must not leave objects behind. It returns what
// could not be undone.
func (j *journal) rollback(budget time.Duration) (left []undo, errs []error) {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	for i := len(j.entries) - 1; i >= 0; i-- {
		e := j.entries[i]
		if err := retry(ctx, e.fn); err != nil {
			left = append(left, e)
			errs = append(errs, fmt.Errorf("%s in the %s: %w", e.what, e.side, err))
		}
	}
	return left, errs
}

// retry calls fn until it succeeds, finds nothing to undo, is refused for
// good, or ctx ends, backing off from 200ms to 3s between calls.
func retry(ctx context.Context, fn func(context.Context) error) error {
	delay := 200 * time.Millisecond
	for {
		opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := fn(opCtx)
		cancel()
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err), apierrors.IsInvalid(err):
			// Refusals do not change by retrying.
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(delay*3/2, 3*time.Second)
	}
}

// describeLeft renders what a rollback left behind, by side.
func describeLeft(left []undo) string {
	var member, host []string
	for _, e := range left {
		if e.side == "host" {
			host = append(host, e.what)
		} else {
			member = append(member, e.what)
		}
	}
	var parts []string
	if len(member) > 0 {
		parts = append(parts, "in the member: "+strings.Join(member, ", "))
	}
	if len(host) > 0 {
		parts = append(parts, "in the host: "+strings.Join(host, ", "))
	}
	return strings.Join(parts, "; ")
}

// errRolledBack wraps a join's failure once its changes are undone.
type errRolledBack struct {
	cause error
	left  []undo
	errs  []error
}

func (e *errRolledBack) Error() string {
	if len(e.left) == 0 {
		return fmt.Sprintf("%v; every change was rolled back", e.cause)
	}
	return fmt.Sprintf("%v; rolling back failed (%v) and left behind %s: run the same join again to finish it, or unjoin the cluster",
		e.cause, e.errs[0], describeLeft(e.left))
}

func (e *errRolledBack) Unwrap() error { return e.cause }
