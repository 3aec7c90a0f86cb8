package framework

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Eventually calls check every interval until it returns nil, and fails the
// test with check's last error if timeout passes first.
func Eventually(t testing.TB, timeout, interval time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	if err := Poll(t.Context(), timeout, interval, check); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Poll calls check every interval until it returns nil, and returns its
// last error wrapped with the time spent if timeout passes first.
func Poll(ctx context.Context, timeout, interval time.Duration, check func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	begin := time.Now()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still not so after %s: %w", time.Since(begin).Round(time.Millisecond), err)
		case <-time.After(interval):
		}
	}
}
