package inventory

import (
	"context"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// lookupListMin is how many keys of one namespace Lookup reads with one
// list rather than a get each.
const lookupListMin = 4

// lookupReaders bounds the namespaces Lookup reads at once.
const lookupReaders = 8

// Lookup returns the entries of keys that the inventory holds, however
// large it is: the records of a namespace with many keys come from one
// list of that namespace's records, the others one by one. Namespaces are
// read in parallel, and the templates of many Secrets alongside them: an
// apply waits on the slowest of these reads, not on their sum.
func (inv *Inventory) Lookup(ctx context.Context, keys []Key) (map[Key]*Entry, error) {
	byNamespace := map[string][]Key{}
	secrets := 0
	for _, k := range keys {
		byNamespace[k.Namespace] = append(byNamespace[k.Namespace], k)
		if k.Group == "" && k.Kind == "Secret" {
			secrets++
		}
	}
	var wg sync.WaitGroup
	// Many federated Secrets: one list of their templates, not a get each.
	var templates map[string]*corev1.Secret
	var templatesErr error
	if secrets >= lookupListMin {
		wg.Add(1)
		go func() {
			defer wg.Done()
			templates, templatesErr = inv.templateSecrets(ctx)
		}()
	}
	namespaces := make([]string, 0, len(byNamespace))
	for ns := range byNamespace {
		namespaces = append(namespaces, ns)
	}
	sort.Strings(namespaces)
	read := make([][]*v1alpha1.FederatedObject, len(namespaces))
	errs := make([]error, len(namespaces))
	slots := make(chan struct{}, lookupReaders)
	for i, ns := range namespaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			read[i], errs[i] = inv.lookupNamespace(ctx, ns, byNamespace[ns])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	wanted := map[Key]bool{}
	for _, k := range keys {
		wanted[k] = true
	}
	// Only Secrets keep their templates in Secrets: the keys counted
	// them all.
	var found []*v1alpha1.FederatedObject
	inSecrets := 0
	for _, records := range read {
		for _, r := range records {
			if k := KeyOfRecord(r); wanted[k] && r.Spec.Federation == inv.Federation {
				found = append(found, r)
				if r.Spec.TemplateSecret != "" {
					inSecrets++
				}
			}
		}
	}
	if inSecrets > 0 && templatesErr != nil {
		return nil, templatesErr
	}
	out := map[Key]*Entry{}
	for _, r := range found {
		var tmpl *unstructured.Unstructured
		var err error
		if templates != nil {
			tmpl, err = inv.decode(r, templates[r.Spec.TemplateSecret])
		} else {
			tmpl, err = inv.template(ctx, r)
		}
		if err != nil {
			return nil, err
		}
		out[KeyOfRecord(r)] = &Entry{Record: r, Template: tmpl}
	}
	return out, nil
}

// lookupNamespace reads the records of keys, all in namespace ns: with one
// list when they are many, else one by one.
func (inv *Inventory) lookupNamespace(ctx context.Context, ns string, keys []Key) ([]*v1alpha1.FederatedObject, error) {
	if ns != "" && len(keys) >= lookupListMin {
		list, err := inv.Records.List(ctx, metav1.ListOptions{
			FieldSelector: fields.AndSelectors(
				fields.OneTermEqualSelector("spec.federation", inv.Federation),
				fields.OneTermEqualSelector("spec.resource.namespace", ns),
			).String(),
		})
		if err == nil {
			records := make([]*v1alpha1.FederatedObject, len(list.Items))
			for i := range list.Items {
				records[i] = &list.Items[i]
			}
			return records, nil
		}
		if !apierrors.IsBadRequest(err) {
			return nil, err
		}
		// A host whose CRD predates the selectable fields: `kubectl fed
		// init` updates it; until then, read one by one.
	}
	var records []*v1alpha1.FederatedObject
	for _, k := range keys {
		r, err := inv.Records.Get(ctx, RecordName(inv.Federation, k), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		records = append(records, r)
	}
	return records, nil
}
