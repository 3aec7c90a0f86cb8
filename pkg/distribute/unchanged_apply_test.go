package distribute

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// kfedFields is the field set the fake member says kfed owns.
const kfedFields = `{"f:data":{"f:key":{}},"f:metadata":{"f:labels":{}}}`

// holdingMember is a fake API server that holds the given ConfigMaps of
// namespace default, as kfed wrote them, and counts the requests it gets
// by method and path.
type holdingMember struct {
	mu       sync.Mutex
	requests map[string]int
	writes   int
}

func newHoldingMember(t *testing.T, held []*metav1.PartialObjectMetadata) (*Target, *holdingMember) {
	t.Helper()
	h := &holdingMember{requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.requests[r.Method+" "+r.URL.Path]++
		if r.Method != http.MethodGet {
			h.writes++
		}
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/default":
			fmt.Fprint(w, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default"}}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/default/configmaps":
			items := make([]metav1.PartialObjectMetadata, len(held))
			for i, m := range held {
				items[i] = *m
			}
			_ = json.NewEncoder(w).Encode(metav1.PartialObjectMetadataList{
				TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadataList"}, Items: items})
		case r.Method == http.MethodPatch:
			m := metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"},
				ObjectMeta: metav1.ObjectMeta{ResourceVersion: "2", ManagedFields: []metav1.ManagedFieldsEntry{
					managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", kfedFields)}}}
			_ = json.NewEncoder(w).Encode(m)
		default:
			http.Error(w, "not expected", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	cfg := &rest.Config{Host: srv.URL, Timeout: 5 * time.Second, QPS: 1000, Burst: 1000}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	tgt := &Target{Ready: true, RequestTimeout: 5 * time.Second, Mapper: staticMapper{mapper}, Types: mapper}
	tgt.Cluster.Name, tgt.Member.Name = "usa", "usa"
	tgt.Dynamic = dynamic.NewForConfigOrDie(cfg)
	tgt.Metadata = metadata.NewForConfigOrDie(cfg)
	return tgt, h
}

func (h *holdingMember) count(request string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[request]
}

func (h *holdingMember) written() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writes
}

// TestApplySkipsWhatMembersHold: ConfigMaps that the member holds as kfed
// wrote them, with kfed's fields as recorded, are read with one list and
// not written; one whose value changed in the manifest, and one whose
// fields someone else took, are written. Their namespace is read once.
func TestApplySkipsWhatMembersHold(t *testing.T) {
	const objects = 6
	var plans []*Plan
	var held []*metav1.PartialObjectMetadata
	recorded := map[inventory.Key]map[string]v1alpha1.ClusterResult{}
	fields := fieldsDigest([]metav1.ManagedFieldsEntry{managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", kfedFields)})
	planned := &Target{Ready: true}
	planned.Cluster.Name, planned.Member.Name = "usa", "usa"
	for i := range objects {
		doc := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%d, namespace: default}\ndata: {key: v}", i)
		p, err := NewPlan("ring", obj(t, doc), []*Target{planned})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
		digest := p.Objects["usa"].GetAnnotations()[v1alpha1.AnnotationAppliedDigest]
		entry := managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", kfedFields)
		switch i {
		case 1:
			digest = "sha256:what-an-older-manifest-gave"
		case 2:
			// Someone else took data.key: kfed's set shrank.
			entry = managed(v1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, "", `{"f:metadata":{"f:labels":{}}}`)
		}
		held = append(held, &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{
			Name: p.Key.Name, Namespace: "default", ResourceVersion: "1",
			Labels:        map[string]string{v1alpha1.LabelFederation: "ring"},
			Annotations:   map[string]string{v1alpha1.AnnotationAppliedDigest: digest},
			ManagedFields: []metav1.ManagedFieldsEntry{entry}}})
		recorded[p.Key] = map[string]v1alpha1.ClusterResult{"usa": {Name: "usa", Action: v1alpha1.ActionCreated, Fields: fields}}
	}
	tgt, member := newHoldingMember(t, held)
	results := Apply(t.Context(), []*Target{tgt}, plans, Options{Federation: "ring", Recorded: recorded})
	for _, r := range results {
		want := v1alpha1.ActionUnchanged
		if r.Key.Name == "c1" || r.Key.Name == "c2" {
			want = v1alpha1.ActionConfigured
		}
		if r.Action != want || r.Fields != fields {
			t.Errorf("%s: %s (%s), fields %q; want %s, fields %q", r.Key, r.Action, r.Message, r.Fields, want, fields)
		}
	}
	if n := member.written(); n != 2 {
		t.Errorf("%d writes, want 2 (c1 and c2)", n)
	}
	if n := member.count("GET /api/v1/namespaces/default/configmaps"); n != 1 {
		t.Errorf("%d lists of the ConfigMaps, want 1", n)
	}
	// The writes into default start together; one of them asks.
	if n := member.count("GET /api/v1/namespaces/default"); n != 1 {
		t.Errorf("namespace default read %d times, want 1", n)
	}

	// Without a record, nothing is trusted: every object is written.
	tgt, member = newHoldingMember(t, held)
	Apply(t.Context(), []*Target{tgt}, plans, Options{Federation: "ring"})
	if n := member.written(); n != objects {
		t.Errorf("without a record: %d writes, want %d", n, objects)
	}
}
