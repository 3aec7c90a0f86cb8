package distribute

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// countingMapper counts the mappings asked of it, and is reset as a
// discovery-backed mapper is.
type countingMapper struct {
	staticMapper
	asked, resets int
}

func (c *countingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.asked++
	return c.staticMapper.RESTMapping(gk, versions...)
}

func (c *countingMapper) Reset() { c.resets++ }

// TestMappingsRemembersWhatWasFound: a kind found is asked of the mapper
// beneath once; one not found yet (a CRD being established) each time;
// Reset starts again.
func TestMappingsRemembersWhatWasFound(t *testing.T) {
	base := meta.NewDefaultRESTMapper(nil)
	base.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	beneath := &countingMapper{staticMapper: staticMapper{base}}
	m := newMappings(beneath)

	cm := schema.GroupKind{Kind: "ConfigMap"}
	for range 3 {
		mapping, err := m.RESTMapping(cm, "v1")
		if err != nil || mapping.Resource.Resource != "configmaps" {
			t.Fatalf("ConfigMap: %v, %v", mapping, err)
		}
	}
	if beneath.asked != 1 {
		t.Errorf("ConfigMap asked of the mapper beneath %d times, want 1", beneath.asked)
	}
	// Other versions are other questions.
	if _, err := m.RESTMapping(cm, "v2", "v1"); err != nil {
		t.Fatal(err)
	}
	if beneath.asked != 2 {
		t.Errorf("asked %d times after a question about other versions, want 2", beneath.asked)
	}

	widget := schema.GroupKind{Group: "example.com", Kind: "Widget"}
	for range 2 {
		if _, err := m.RESTMapping(widget, "v1"); !meta.IsNoMatchError(err) {
			t.Fatalf("Widget: %v, want no match", err)
		}
	}
	if beneath.asked != 4 {
		t.Errorf("asked %d times after two questions about an unknown kind, want 4", beneath.asked)
	}

	m.Reset()
	if _, err := m.RESTMapping(cm, "v1"); err != nil {
		t.Fatal(err)
	}
	if beneath.resets != 1 || beneath.asked != 5 {
		t.Errorf("after Reset: %d resets and %d questions, want 1 and 5", beneath.resets, beneath.asked)
	}
}
