package inventory

import (
	"context"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// OfKinds returns the federation's records of objects of the given kinds,
// with one list of records per kind name: a reader of one type's records,
// such as kubectl fed get, then reads and decodes those alone, not the
// template of every object the federation holds. A host whose CRD cannot
// select records by kind yet (kubectl fed init updates it) is read with
// one list of every record, filtered here.
func (inv *Inventory) OfKinds(ctx context.Context, kinds []schema.GroupKind) ([]v1alpha1.FederatedObject, error) {
	want := map[schema.GroupKind]bool{}
	var names []string
	for _, gk := range kinds {
		if !want[gk] {
			want[gk] = true
			names = append(names, gk.Kind)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []v1alpha1.FederatedObject
	keep := func(items []v1alpha1.FederatedObject) {
		for _, r := range items {
			k := KeyOfRecord(&r)
			if r.Spec.Federation == inv.Federation && want[schema.GroupKind{Group: k.Group, Kind: k.Kind}] {
				out = append(out, r)
			}
		}
	}
	for _, kind := range names {
		list, err := inv.Records.List(ctx, metav1.ListOptions{
			FieldSelector: fields.AndSelectors(
				fields.OneTermEqualSelector("spec.federation", inv.Federation),
				fields.OneTermEqualSelector("spec.resource.kind", kind),
			).String(),
		})
		if apierrors.IsBadRequest(err) {
			all, err := inv.records(ctx)
			if err != nil {
				return nil, err
			}
			out = out[:0]
			keep(all)
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		keep(list.Items)
	}
	return out, nil
}
