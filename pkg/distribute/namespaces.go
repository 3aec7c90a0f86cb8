package distribute

import (
	"context"
	"fmt"
	"time"

	"github.com/kfed-dev/kfed/pkg/poll"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// namespaceGoneWait bounds how long a write waits for a namespace that is
// being deleted in a member to be gone, before it creates it anew. The
// member's namespace controller takes seconds for a namespace of a few
// objects; one held by finalizers may never go.
const namespaceGoneWait = 60 * time.Second

// awaitNamespaceGone waits while namespace name is being deleted in the
// member, and returns a NotFound error once it is gone, so that the caller
// creates it as if it had never been there, or nil if someone made it anew
// meanwhile. A delete
// removes a namespace apply created once the last of kfed's objects left
// it; an apply right after must not fail on "being terminated" for the
// seconds that takes. A dry run waits for nothing: the namespace would be
// made anew.
func (w *writer) awaitNamespaceGone(ctx context.Context, name string) error {
	var gone error = apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
	if w.opts.DryRun != DryRunNone {
		return gone
	}
	nsClient := w.t.Metadata.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	err := poll.Until(ctx, 500*time.Millisecond, namespaceGoneWait, func(ctx context.Context) (bool, error) {
		live, err := nsClient.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return true, nil
		case err != nil:
			return false, err
		case live.DeletionTimestamp == nil:
			// Gone and made anew by someone else meanwhile.
			gone = nil
			return true, nil
		}
		return false, nil
	})
	if err == nil {
		return gone
	}
	if !poll.IsTimeout(err) {
		return fmt.Errorf("waiting for namespace %s, which is being deleted in the cluster, to go: %w", name, err)
	}
	return fmt.Errorf("namespace %s is being deleted in the cluster and was still there after %s; apply again once it is gone: %w", name, namespaceGoneWait, err)
}
