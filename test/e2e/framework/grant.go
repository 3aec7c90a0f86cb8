package framework

import (
	"context"
	"strings"
	"testing"
)

// DefaultManagerRole is the ClusterRole join binds managers to by default:
// kfed's own, with the namespaced kinds the member served at join time,
// namespaces and CRDs.
const DefaultManagerRole = "kfed-manager"

// WithManagerRole joins every member again with its manager bound to role,
// for a test that needs more than the default grant (custom resources of a
// CRD the test makes, say), and joins them back to the default grant when
// the test ends.
func (k *Kubectl) WithManagerRole(t testing.TB, host string, members []string, role string) {
	t.Helper()
	join := func(ctx context.Context, role string) error {
		for _, m := range members {
			res, err := k.Run(ctx, "fed", "join", m, "--context", host, "--cluster-context", m, "--manager-cluster-role", role)
			if err == nil && res.ExitCode != 0 {
				err = &joinError{res}
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := join(t.Context(), role); err != nil {
		t.Fatalf("binding the managers to %s: %v", role, err)
	}
	t.Cleanup(func() {
		if err := join(context.Background(), DefaultManagerRole); err != nil {
			t.Errorf("binding the managers back to %s: %v", DefaultManagerRole, err)
		}
	})
}

type joinError struct{ res Result }

func (e *joinError) Error() string { return strings.TrimSpace(e.res.String()) }
