package aggregate

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Item is an object read from a member.
type Item struct {
	Cluster string
	// Resource is the object's type as the member serves it.
	Resource schema.GroupVersionResource
	Object   *unstructured.Unstructured
}

// SortItems sorts items by type, in the order of types (types missing from
// it go last), then by cluster, namespace and name.
func SortItems(items []Item, types []schema.GroupResource) {
	rank := map[schema.GroupResource]int{}
	for i, t := range types {
		rank[t] = i
	}
	rankOf := func(gr schema.GroupResource) int {
		if r, ok := rank[gr]; ok {
			return r
		}
		return len(types)
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if ra, rb := rankOf(a.Resource.GroupResource()), rankOf(b.Resource.GroupResource()); ra != rb {
			return ra < rb
		}
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Object.GetNamespace() != b.Object.GetNamespace() {
			return a.Object.GetNamespace() < b.Object.GetNamespace()
		}
		return a.Object.GetName() < b.Object.GetName()
	})
}

// Name returns how `kubectl fed get -o name` names an item: kubectl's
// kind.group/name with the member in front, such as
// usa/deployment.apps/web, or eur/pod/web-5d8f7c6b9-x2x7q for the core
// group. As with kubectl's names, the namespace is not part of it.
func (it Item) Name() string {
	gvk := it.Object.GroupVersionKind()
	kind := strings.ToLower(gvk.Kind)
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	return it.Cluster + "/" + kind + "/" + it.Object.GetName()
}

// Annotated returns a copy of the item's object for printing, carrying
// AnnotationCluster.
func (it Item) Annotated() *unstructured.Unstructured {
	obj := it.Object.DeepCopy()
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[AnnotationCluster] = it.Cluster
	obj.SetAnnotations(a)
	return obj
}
