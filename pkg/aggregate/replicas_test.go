package aggregate

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

func record(apiVersion, kind, ns, name, template string, placed map[string]int32) v1alpha1.FederatedObject {
	r := v1alpha1.FederatedObject{Spec: v1alpha1.FederatedObjectSpec{
		Federation: "magicring",
		Resource:   v1alpha1.ObjectReference{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name},
		Template:   &runtime.RawExtension{Raw: []byte(template)},
	}}
	for c, n := range placed {
		r.Status.Clusters = append(r.Status.Clusters, v1alpha1.ClusterResult{Name: c, Action: v1alpha1.ActionCreated, Replicas: ptr.To(n)})
	}
	return r
}

func TestReplicasColumns(t *testing.T) {
	deployments := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	r := NewReplicas([]v1alpha1.FederatedObject{
		record("apps/v1", "Deployment", "shop", "web", `{"spec":{"replicas":10}}`, map[string]int32{"usa": 5, "eur": 5}),
		record("v1", "ConfigMap", "shop", "settings", `{"data":{"a":"b"}}`, nil),
	})
	if !r.Has(deployments) || r.Has(schema.GroupKind{Kind: "ConfigMap"}) {
		t.Fatalf("Has: deployments %v, configmaps %v", r.Has(deployments), r.Has(schema.GroupKind{Kind: "ConfigMap"}))
	}

	tbl := &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Ready", Type: "string"},
		},
		Rows: []metav1.TableRow{
			{Cells: []any{"web", "5/5"}, Object: object("shop", "web")},
			{Cells: []any{"local", "1/1"}, Object: object("shop", "local")},
		},
	}
	r.AddColumns(Part{Cluster: "eur", Table: tbl}, deployments)
	if got, want := columns(tbl), []string{"Name", "Desired", "Placed", "Ready"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	want := [][]any{{"web", int64(10), int64(5), "5/5"}, {"local", "<none>", "<none>", "1/1"}}
	if got := cells(tbl); !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}

	// A member the object was not placed in has no share.
	tbl = &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{{Name: "Name", Format: "name"}},
		Rows:              []metav1.TableRow{{Cells: []any{"web"}, Object: object("shop", "web")}},
	}
	r.AddColumns(Part{Cluster: "jpn", Table: tbl}, deployments)
	if got, want := cells(tbl), [][]any{{"web", int64(10), "<none>"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestReplicasColumnNamedApartFromServersDesired(t *testing.T) {
	rs := schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}
	r := NewReplicas([]v1alpha1.FederatedObject{
		record("apps/v1", "ReplicaSet", "shop", "web", `{"spec":{"replicas":4}}`, map[string]int32{"usa": 2}),
	})
	tbl := &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{{Name: "Name", Format: "name"}, {Name: "Desired"}},
		Rows:              []metav1.TableRow{{Cells: []any{"web", int64(2)}, Object: object("shop", "web")}},
	}
	r.AddColumns(Part{Cluster: "usa", Table: tbl}, rs)
	if got, want := columns(tbl), []string{"Name", "Fed-Desired", "Placed", "Desired"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
}

func TestNoReplicasAddsNothing(t *testing.T) {
	var r *Replicas
	tbl := podTable([3]string{"", "a", "Running"})
	r.AddColumns(Part{Cluster: "usa", Table: tbl}, schema.GroupKind{Kind: "Pod"})
	if got, want := columns(tbl), []string{"Name", "Status"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
}
