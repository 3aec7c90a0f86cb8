package aggregate

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
)

func item(cluster, apiVersion, kind, ns, name string) Item {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	gv, _ := schema.ParseGroupVersion(apiVersion)
	return Item{Cluster: cluster, Resource: gv.WithResource(strings.ToLower(kind) + "s"), Object: u}
}

func TestSortItemsAndNames(t *testing.T) {
	items := []Item{
		item("usa", "v1", "Service", "shop", "web"),
		item("usa", "apps/v1", "Deployment", "shop", "web"),
		item("eur", "apps/v1", "Deployment", "shop", "web"),
		item("eur", "apps/v1", "Deployment", "blog", "web"),
	}
	SortItems(items, []schema.GroupResource{{Group: "apps", Resource: "deployments"}, {Resource: "services"}})
	var got []string
	for _, it := range items {
		got = append(got, it.Name()+" "+it.Object.GetNamespace())
	}
	want := []string{
		"eur/deployment.apps/web blog",
		"eur/deployment.apps/web shop",
		"usa/deployment.apps/web shop",
		"usa/service/web shop",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAnnotated(t *testing.T) {
	it := item("jpn", "v1", "ConfigMap", "shop", "settings")
	it.Object.SetAnnotations(map[string]string{"a": "b"})
	got := it.Annotated()
	if want := map[string]string{"a": "b", AnnotationCluster: "jpn"}; !reflect.DeepEqual(got.GetAnnotations(), want) {
		t.Errorf("annotations = %v, want %v", got.GetAnnotations(), want)
	}
	if _, ok := it.Object.GetAnnotations()[AnnotationCluster]; ok {
		t.Error("Annotated changed the object it was given")
	}
}

func TestTypes(t *testing.T) {
	mapping := func(resource string) *meta.RESTMapping {
		return &meta.RESTMapping{Resource: schema.GroupVersionResource{Resource: resource}}
	}
	answer := func(resources ...string) *Answer {
		a := &Answer{}
		for _, r := range resources {
			a.Infos = append(a.Infos, &resource.Info{Mapping: mapping(r)})
		}
		return a
	}
	// Asked for a,b,c,d: no member has every type.
	got := Types([]*Answer{answer("c"), answer("b", "b", "d"), answer("a", "c"), answer()})
	want := []schema.GroupResource{{Resource: "a"}, {Resource: "c"}, {Resource: "b"}, {Resource: "d"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Types = %v, want %v", got, want)
	}
}
