package distribute

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// Reading the live objects diff compares with.

// live returns the object in the member, or nil when there is none. When
// many objects of its kind and namespace are compared, one list (a page at
// a time) answers for all of them.
func (c *comparer) live(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if key := listKeyOf(obj); c.w.planned[key] >= listThreshold {
		// Whole objects: a diff needs their content, not only their
		// metadata.
		l := listOnce(&c.mu, c.lists, key, func() (map[string]*unstructured.Unstructured, error) { return listLive(ctx, ri) })
		if l.err == nil {
			return l.items[obj.GetName()], nil
		}
		// A manager allowed to get but not to list, say: ask for each.
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return live, err
}

func listLive(ctx context.Context, ri dynamic.ResourceInterface) (map[string]*unstructured.Unstructured, error) {
	items := map[string]*unstructured.Unstructured{}
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := ri.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			items[list.Items[i].GetName()] = &list.Items[i]
		}
		if list.GetContinue() == "" {
			return items, nil
		}
		opts.Continue = list.GetContinue()
	}
}
