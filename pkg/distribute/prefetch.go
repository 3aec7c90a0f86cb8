package distribute

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// prefetch starts, in the background, the metadata lists that the writes
// of objs will read (see writer.existing), all at once rather than one
// kind after another as the writes reach them: a re-apply that writes
// nothing then waits on one round of lists per member, not on as many
// rounds as its objects have kinds. Kinds the member does not serve yet
// (a CRD of the same run) are left to the writes, which wait for them.
// The returned function waits for the lists started.
func (w *writer) prefetch(ctx context.Context, objs []*unstructured.Unstructured) (wait func()) {
	var wg sync.WaitGroup
	started := map[listKey]bool{}
	for _, obj := range objs {
		key := listKeyOf(obj)
		if started[key] || w.planned[key] < listThreshold {
			continue
		}
		started[key] = true
		gvk := obj.GroupVersionKind()
		mapping, err := w.t.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			continue
		}
		client := w.metadata(mapping, obj.GetNamespace())
		wg.Add(1)
		go func() {
			defer wg.Done()
			listOnce(&w.mu, w.lists, key, func() (map[string]*metav1.PartialObjectMetadata, error) { return listMetadata(ctx, client) })
		}()
	}
	return wg.Wait
}
