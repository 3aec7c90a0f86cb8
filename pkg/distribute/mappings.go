package distribute

import (
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// mappings remembers the REST mappings that a member's mapper found. Every
// write asks for its object's kind, and the discovery-backed mapper works
// each answer out anew over every group the member serves: in a re-apply
// of 200 objects to 6 members that had written nothing, the 1,200 answers
// took a fifth of kubectl-fed's processor time. A kind the mapper did not
// find is asked for again, since a CRD written in the same run may be
// about to serve it; Reset forgets everything.
type mappings struct {
	meta.ResettableRESTMapper

	mu    sync.RWMutex
	found map[mappingKey]*meta.RESTMapping
}

type mappingKey struct {
	gk       schema.GroupKind
	versions string
}

func newMappings(m meta.ResettableRESTMapper) *mappings {
	return &mappings{ResettableRESTMapper: m, found: map[mappingKey]*meta.RESTMapping{}}
}

// RESTMapping returns the mapping of gk, found once per set of versions.
// Callers share it and must not change it.
func (m *mappings) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	key := mappingKey{gk: gk, versions: strings.Join(versions, ",")}
	m.mu.RLock()
	mapping := m.found[key]
	m.mu.RUnlock()
	if mapping != nil {
		return mapping, nil
	}
	mapping, err := m.ResettableRESTMapper.RESTMapping(gk, versions...)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.found[key] = mapping
	m.mu.Unlock()
	return mapping, nil
}

// Reset forgets the mappings found, and resets the mapper beneath.
func (m *mappings) Reset() {
	m.mu.Lock()
	m.found = map[mappingKey]*meta.RESTMapping{}
	m.mu.Unlock()
	m.ResettableRESTMapper.Reset()
}
