package distribute

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

func configMap(value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "namespace": "shop", "annotations": map[string]any{"keep": "me"}},
		"data":     map[string]any{"key": value},
	}}
}

func TestAppliedDigest(t *testing.T) {
	a, b := configMap("one"), configMap("one")
	if err := stampDigest(a); err != nil {
		t.Fatal(err)
	}
	// The stamp is left out of the digest: stamping again changes nothing.
	if err := stampDigest(a); err != nil {
		t.Fatal(err)
	}
	if err := stampDigest(b); err != nil {
		t.Fatal(err)
	}
	da, db := a.GetAnnotations()[v1alpha1.AnnotationAppliedDigest], b.GetAnnotations()[v1alpha1.AnnotationAppliedDigest]
	if da == "" || da != db {
		t.Fatalf("equal objects, digests %q and %q", da, db)
	}
	if a.GetAnnotations()["keep"] != "me" {
		t.Errorf("other annotations lost: %v", a.GetAnnotations())
	}
	c := configMap("two")
	if err := stampDigest(c); err != nil {
		t.Fatal(err)
	}
	if c.GetAnnotations()[v1alpha1.AnnotationAppliedDigest] == da {
		t.Errorf("a changed value kept the digest %s", da)
	}
}

func managed(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: subresource, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func TestFieldsDigest(t *testing.T) {
	ours := managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:data":{"f:key":{}}}`)
	base := fieldsDigest([]metav1.ManagedFieldsEntry{ours})
	if base == "" {
		t.Fatal("no digest of kfed's own entry")
	}
	others := []metav1.ManagedFieldsEntry{
		managed("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{}}`),
		managed("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:data":{"f:other":{}}}`),
		managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationUpdate, "", `{"f:data":{"f:x":{}}}`),
		managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "status", `{"f:status":{}}`),
		ours,
	}
	if got := fieldsDigest(others); got != base {
		t.Errorf("others' entries changed kfed's digest: %s, want %s", got, base)
	}
	shrunk := managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:data":{}}`)
	if got := fieldsDigest([]metav1.ManagedFieldsEntry{shrunk}); got == base {
		t.Error("a field taken from kfed kept the digest")
	}
	if got := fieldsDigest(others[:2]); got != "" {
		t.Errorf("digest %q without an entry of kfed's", got)
	}
}

func TestHoldsAlready(t *testing.T) {
	want := configMap("one")
	if err := stampDigest(want); err != nil {
		t.Fatal(err)
	}
	digest := want.GetAnnotations()[v1alpha1.AnnotationAppliedDigest]
	ours := managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:data":{"f:key":{}}}`)
	recorded := fieldsDigest([]metav1.ManagedFieldsEntry{ours})
	live := func(digest string, entries ...metav1.ManagedFieldsEntry) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Annotations: map[string]string{v1alpha1.AnnotationAppliedDigest: digest}, ManagedFields: entries}}
	}
	deleting := live(digest, ours)
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	editedField := managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:data":{}}`)
	status := managed("controller", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{}}`)
	for _, tc := range []struct {
		name     string
		existing *metav1.PartialObjectMetadata
		recorded string
		want     bool
	}{
		{"as written", live(digest, ours), recorded, true},
		{"as written, status updated since", live(digest, ours, status), recorded, true},
		{"missing", nil, recorded, false},
		{"nothing recorded", live(digest, ours), "", false},
		{"other content wanted", live("sha256:other", ours), recorded, false},
		{"a field of kfed's edited in the member", live(digest, editedField), recorded, false},
		{"kfed's entry gone", live(digest, status), recorded, false},
		{"being deleted", deleting, recorded, false},
	} {
		if got := holdsAlready(tc.existing, want, tc.recorded); got != tc.want {
			t.Errorf("%s: holdsAlready = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRecordedFields(t *testing.T) {
	k := inventory.Key{Kind: "ConfigMap", Namespace: "shop", Name: "cm"}
	rec := map[inventory.Key]map[string]v1alpha1.ClusterResult{k: {
		"usa": {Name: "usa", Action: v1alpha1.ActionUnchanged, Fields: "sha256:a"},
		"eur": {Name: "eur", Action: v1alpha1.ActionPending, Fields: "sha256:b"},
	}}
	if got := recordedFields(rec, k, "usa"); got != "sha256:a" {
		t.Errorf("usa: %q", got)
	}
	if got := recordedFields(rec, k, "eur"); got != "" {
		t.Errorf("a pending write must not be trusted: %q", got)
	}
	if got := recordedFields(rec, k, "jpn"); got != "" {
		t.Errorf("jpn: %q", got)
	}
}

func TestDecideSavesNewFields(t *testing.T) {
	prev := &v1alpha1.FederatedObject{}
	prev.Status.Clusters = []v1alpha1.ClusterResult{{Name: "usa", Action: v1alpha1.ActionCreated, Fields: "sha256:a"}}
	same := Result{Cluster: "usa", Action: v1alpha1.ActionUnchanged, Presence: PresenceHeld, Fields: "sha256:a"}
	if got := decide(prev, false, true, []Result{same}, nil); got != keepRecord {
		t.Errorf("same fields: verdict %v, want keepRecord", got)
	}
	moved := same
	moved.Fields = "sha256:b"
	if got := decide(prev, false, true, []Result{moved}, nil); got != saveRun {
		t.Errorf("new fields: verdict %v, want saveRun", got)
	}
}
