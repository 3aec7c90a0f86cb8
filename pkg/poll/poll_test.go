package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var services = schema.GroupResource{Resource: "services"}

func TestUntilStopsAtOnceOnFinalErrors(t *testing.T) {
	for _, final := range []error{
		apierrors.NewForbidden(services, "web", errors.New("RBAC says no")),
		apierrors.NewUnauthorized("token expired"),
		apierrors.NewNotFound(services, "web"),
	} {
		calls := 0
		start := time.Now()
		err := Until(t.Context(), 10*time.Millisecond, time.Minute, func(context.Context) (bool, error) {
			calls++
			return false, final
		})
		if err != final || calls != 1 {
			t.Errorf("got %v after %d calls, want %v after one", err, calls, final)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%v: waited %s", final, time.Since(start))
		}
	}
}

func TestUntilRetriesOtherErrors(t *testing.T) {
	calls := 0
	err := Until(t.Context(), time.Millisecond, time.Minute, func(context.Context) (bool, error) {
		calls++
		if calls < 3 {
			return false, apierrors.NewServiceUnavailable("etcd is slow")
		}
		return true, nil
	})
	if err != nil || calls != 3 {
		t.Errorf("got %v after %d calls, want success after three", err, calls)
	}
}

func TestUntilTimeoutKeepsTheLastError(t *testing.T) {
	err := Until(t.Context(), time.Millisecond, 30*time.Millisecond, func(context.Context) (bool, error) {
		return false, errors.New("connection refused")
	})
	if !IsTimeout(err) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "30ms") {
		t.Errorf("got %v, want a timeout naming the last error", err)
	}
	err = Until(t.Context(), time.Millisecond, 20*time.Millisecond, func(context.Context) (bool, error) { return false, nil })
	if !IsTimeout(err) || err.Error() != "not done after 20ms" {
		t.Errorf("got %v", err)
	}
}

func TestUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Until(ctx, time.Millisecond, time.Minute, func(context.Context) (bool, error) { return false, nil })
	if !errors.Is(err, context.Canceled) || IsTimeout(err) {
		t.Errorf("got %v, want the context's error", err)
	}
}
