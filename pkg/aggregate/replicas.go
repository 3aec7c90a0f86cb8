package aggregate

import (
	"encoding/json"
	"k8s.io/apimachinery/pkg/runtime"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Replicas is what a federation's inventory knows of its workloads: for
// each federated object with spec.replicas, the replicas the user asked of
// the whole federation and each member's share of them.
type Replicas struct {
	objects map[objectKey]*workload
	kinds   map[schema.GroupKind]bool
}

type objectKey struct {
	group, kind, namespace, name string
}

type workload struct {
	desired *int64
	placed  map[string]int32
}

// NewReplicas indexes the records that describe workloads: those whose
// template sets spec.replicas or whose results carry a member's share.
func NewReplicas(records []v1alpha1.FederatedObject) *Replicas {
	r := &Replicas{objects: map[objectKey]*workload{}, kinds: map[schema.GroupKind]bool{}}
	for i := range records {
		rec := &records[i]
		w := &workload{desired: templateReplicas(rec.Spec.Template), placed: map[string]int32{}}
		for _, c := range rec.Status.Clusters {
			if c.Replicas != nil {
				w.placed[c.Name] = *c.Replicas
			}
		}
		if w.desired == nil && len(w.placed) == 0 {
			continue
		}
		gv, err := schema.ParseGroupVersion(rec.Spec.Resource.APIVersion)
		if err != nil {
			continue
		}
		gk := schema.GroupKind{Group: gv.Group, Kind: rec.Spec.Resource.Kind}
		r.kinds[gk] = true
		r.objects[objectKey{gk.Group, gk.Kind, rec.Spec.Resource.Namespace, rec.Spec.Resource.Name}] = w
	}
	return r
}

func templateReplicas(tmpl *runtime.RawExtension) *int64 {
	if tmpl == nil {
		return nil
	}
	raw := tmpl.Raw
	var t struct {
		Spec struct {
			Replicas *int64 `json:"replicas"`
		} `json:"spec"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil {
		return nil
	}
	return t.Spec.Replicas
}

// Has reports whether the inventory holds workloads of kind gk.
func (r *Replicas) Has(gk schema.GroupKind) bool { return r != nil && r.kinds[gk] }

// AddColumns adds DESIRED (the federation's replicas, as applied) and
// PLACED (this member's share) after the name column of a member's table
// of kind gk, when the inventory holds workloads of that kind. Rows of
// objects the inventory does not know show <none>. Where the server's
// table has a Desired column of its own, as a ReplicaSet's has, which is
// the member's spec.replicas, the federation's is called FED-DESIRED.
func (r *Replicas) AddColumns(p Part, gk schema.GroupKind) {
	if !r.Has(gk) {
		return
	}
	desired := "Desired"
	for _, c := range p.Table.ColumnDefinitions {
		if c.Name == desired {
			desired = "Fed-Desired"
		}
	}
	cols := []metav1.TableColumnDefinition{
		{Name: desired, Type: "integer", Description: "The replicas asked of the whole federation, as applied."},
		{Name: "Placed", Type: "integer", Description: "This member's share of the replicas, as last applied."},
	}
	InsertColumns(p.Table, cols, func(row *metav1.TableRow) []any {
		none := []any{"<none>", "<none>"}
		m, ok := RowObject(row)
		if !ok {
			return none
		}
		w := r.objects[objectKey{gk.Group, gk.Kind, m.GetNamespace(), m.GetName()}]
		if w == nil {
			return none
		}
		out := none
		if w.desired != nil {
			out[0] = *w.desired
		}
		if n, ok := w.placed[p.Cluster]; ok {
			out[1] = int64(n)
		}
		return out
	})
}
