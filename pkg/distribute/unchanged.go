package distribute

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// Telling, from metadata alone, that a member already holds what an apply
// would write.
//
// GitOps loops re-apply the same manifests every few minutes. Sending every
// object to every member each time costs a write per object and member,
// and reading each one whole to compare costs as much. Two facts, both
// found in the metadata that one list per kind and namespace returns, tell
// instead that a write would change nothing:
//
//   - the object carries v1alpha1.AnnotationAppliedDigest, the digest of what
//     kfed last sent there, and it equals the digest of what this run would
//     send: kfed's wish has not changed;
//   - kfed's managedFields entry in the member hashes to the digest the
//     inventory recorded after that write (ClusterResult.Fields): nobody
//     changed the member's copy since. Whoever changes or removes a field
//     that kfed set, by update or by a forced apply, takes that field over
//     or drops it, and kfed's entry shrinks with it. Status updates, and
//     fields that only others set, leave kfed's entry alone, so that
//     controllers at work do not make every object look edited.
//
// Anything else (no digest recorded, a write that failed last time, the
// object missing) falls back to writing, which is always right: a
// server-side apply that changes nothing leaves the object as it is.

// appliedDigest returns the digest of obj as a member gets it, its
// AnnotationAppliedDigest left out.
func appliedDigest(obj *unstructured.Unstructured) (string, error) {
	c := obj.DeepCopy()
	if ann := c.GetAnnotations(); ann != nil {
		delete(ann, v1alpha1.AnnotationAppliedDigest)
		if len(ann) == 0 {
			ann = nil
		}
		c.SetAnnotations(ann)
	}
	// encoding/json writes map keys sorted: equal objects give equal bytes.
	doc, err := json.Marshal(c.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(doc)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// stampDigest sets obj's AnnotationAppliedDigest to the digest of the rest
// of it.
func stampDigest(obj *unstructured.Unstructured) error {
	d, err := appliedDigest(obj)
	if err != nil {
		return err
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[v1alpha1.AnnotationAppliedDigest] = d
	obj.SetAnnotations(ann)
	return nil
}

// fieldsDigest returns the digest of the fields kfed's field manager owns
// by server-side apply in an object's main resource, or "" when it owns
// none there. The API server writes a field set in one canonical order,
// so equal sets give equal digests.
func fieldsDigest(entries []metav1.ManagedFieldsEntry) string {
	for _, e := range entries {
		if e.Manager != v1alpha1.FieldManager || e.Operation != metav1.ManagedFieldsOperationApply || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		sum := sha256.New()
		sum.Write([]byte(e.APIVersion))
		sum.Write([]byte{0})
		sum.Write(e.FieldsV1.Raw)
		return "sha256:" + hex.EncodeToString(sum.Sum(nil))
	}
	return ""
}

// holdsAlready reports whether the member's object, seen through its
// metadata, is what writing obj would leave there: see the comment at the
// top of this file. recorded is the Fields digest the inventory holds for
// the object in this member.
func holdsAlready(existing *metav1.PartialObjectMetadata, obj *unstructured.Unstructured, recorded string) bool {
	if existing == nil || recorded == "" || existing.DeletionTimestamp != nil {
		return false
	}
	want := obj.GetAnnotations()[v1alpha1.AnnotationAppliedDigest]
	return want != "" && existing.Annotations[v1alpha1.AnnotationAppliedDigest] == want &&
		fieldsDigest(existing.ManagedFields) == recorded
}

// recordedFields returns the Fields digest that recorded holds for key in
// cluster, when the last command left the object written there.
func recordedFields(recorded map[inventory.Key]map[string]v1alpha1.ClusterResult, key inventory.Key, cluster string) string {
	c, ok := recorded[key][cluster]
	if !ok {
		return ""
	}
	switch c.Action {
	case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
		return c.Fields
	}
	return ""
}
