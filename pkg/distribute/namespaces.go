package distribute

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/poll"
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

// namespaceCheck is one look at whether a namespace exists in the member,
// creating it if not. The writes into a namespace all start at once, and
// before the first of them knows the answer each would otherwise ask the
// member itself: a re-apply of 200 objects asked 200 times per member.
// The writes that arrive while a check runs wait for its answer instead.
type namespaceCheck struct {
	done chan struct{}
	err  error
}

// ensureNamespace creates a namespace the object needs, labelled as kfed's,
// when the member does not have it, and reports whether it did. Only the
// write that made the check is told that it created the namespace.
func (w *writer) ensureNamespace(ctx context.Context, name string) (bool, error) {
	w.mu.Lock()
	if w.namespaces[name] {
		w.mu.Unlock()
		return false, nil
	}
	if c := w.checking[name]; c != nil {
		w.mu.Unlock()
		select {
		case <-c.done:
			return false, c.err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	c := &namespaceCheck{done: make(chan struct{})}
	w.checking[name] = c
	w.mu.Unlock()

	created, err := w.checkNamespace(ctx, name)
	c.err = err
	w.mu.Lock()
	// A check that failed is not remembered: the next write asks again.
	delete(w.checking, name)
	w.mu.Unlock()
	close(c.done)
	return created, err
}

// checkNamespace reads the namespace in the member, waits if it is being
// deleted, and creates it when it is not there.
func (w *writer) checkNamespace(ctx context.Context, name string) (bool, error) {
	nsClient := w.t.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	live, err := nsClient.Get(ctx, name, metav1.GetOptions{})
	if err == nil && live.GetDeletionTimestamp() != nil {
		err = w.awaitNamespaceGone(ctx, name)
	}
	if err == nil {
		w.markNamespace(name, false)
		return false, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	if w.opts.DryRun != DryRunNone {
		// Nothing is created in a dry run; the object would land in a
		// namespace made for it.
		w.markNamespace(name, true)
		return true, nil
	}
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{
			"name": name,
			"labels": map[string]any{
				v1alpha1.LabelFederation: w.opts.Federation,
				v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
			},
		},
	}}
	if _, err := nsClient.Create(ctx, ns, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("creating namespace %s: %w", name, err)
	}
	w.markNamespace(name, false)
	return true, nil
}

func (w *writer) isMissing(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.missing[name]
}

// markNamespace records that a namespace exists, or that a dry run
// pretended to create it.
func (w *writer) markNamespace(name string, missing bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.namespaces[name] = true
	if missing {
		if w.missing == nil {
			w.missing = map[string]bool{}
		}
		w.missing[name] = true
	}
}
