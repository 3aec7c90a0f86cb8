package distribute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// listThreshold is how many objects of one kind and namespace a member must
// be sent before the writer reads which of them exist with one list rather
// than with a get each.
const listThreshold = 4

// listPageSize bounds each page of those lists.
const listPageSize = 500

// writer writes to one member. Its methods may run concurrently.
type writer struct {
	t    *Target
	opts Options
	// planned counts the objects this run writes to the member, by kind
	// and namespace. It is filled before the first write and only read
	// after.
	planned map[listKey]int

	mu sync.Mutex // guards the maps and flag below
	// lists holds what one list read of a kind and namespace.
	lists map[listKey]*listed[*metav1.PartialObjectMetadata]
	// namespaces holds the namespaces known to exist in the member.
	namespaces map[string]bool
	// checking holds the namespaces being looked for in the member.
	checking map[string]*namespaceCheck
	// missing holds the namespaces a dry run pretended to create.
	missing map[string]bool
	// crdApplied is set once a CRD was written in this run, after which an
	// unknown kind may be one that is still being established.
	crdApplied bool
}

func newWriter(t *Target, opts Options) *writer {
	return &writer{t: t, opts: opts, planned: map[listKey]int{}, lists: map[listKey]*listed[*metav1.PartialObjectMetadata]{}, namespaces: map[string]bool{}, checking: map[string]*namespaceCheck{}}
}

// listKey is a kind in a namespace; the namespace is empty for
// cluster-scoped kinds.
type listKey struct {
	gk        schema.GroupKind
	namespace string
}

func listKeyOf(obj *unstructured.Unstructured) listKey {
	return listKey{gk: obj.GroupVersionKind().GroupKind(), namespace: obj.GetNamespace()}
}

// listed is what one list read of a kind and namespace in the member, by
// name: read once, by whichever write or comparison needs it first.
type listed[T any] struct {
	once  sync.Once
	items map[string]T
	err   error
}

// listOnce returns the listing of key in lists, read with list the first
// time it is asked for; mu guards lists.
func listOnce[T any](mu *sync.Mutex, lists map[listKey]*listed[T], key listKey, list func() (map[string]T, error)) *listed[T] {
	mu.Lock()
	l := lists[key]
	if l == nil {
		l = &listed[T]{}
		lists[key] = l
	}
	mu.Unlock()
	l.once.Do(func() { l.items, l.err = list() })
	return l
}

// existing returns the metadata of the object in the member, or nil when
// there is none. When the run writes many objects of the same kind and
// namespace, one list answers for all of them.
func (w *writer) existing(ctx context.Context, mapping *meta.RESTMapping, obj *unstructured.Unstructured) (*metav1.PartialObjectMetadata, error) {
	client := w.metadata(mapping, obj.GetNamespace())
	if key := listKeyOf(obj); w.planned[key] >= listThreshold {
		l := listOnce(&w.mu, w.lists, key, func() (map[string]*metav1.PartialObjectMetadata, error) { return listMetadata(ctx, client) })
		if l.err == nil {
			return l.items[obj.GetName()], nil
		}
		// A manager allowed to get but not to list, say: ask for each.
	}
	m, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return m, err
}

// metadata returns the metadata-only client of a resource in a namespace,
// or cluster-wide when the resource is not namespaced.
func (w *writer) metadata(mapping *meta.RESTMapping, namespace string) metadata.ResourceInterface {
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		namespace = ""
	}
	return w.t.Metadata.Resource(mapping.Resource).Namespace(namespace)
}

// listMetadata reads the metadata of every object client reaches, a page
// at a time.
func listMetadata(ctx context.Context, client metadata.ResourceInterface) (map[string]*metav1.PartialObjectMetadata, error) {
	items := map[string]*metav1.PartialObjectMetadata{}
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := client.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			items[list.Items[i].Name] = &list.Items[i]
		}
		if list.Continue == "" {
			return items, nil
		}
		opts.Continue = list.Continue
	}
}

// errNotServed is wrapped by errors for kinds the member has no API for.
var errNotServed = errors.New("the cluster does not serve")

// resource finds the API resource of an object's kind in the member. A kind
// whose CRD was just written is waited for while it becomes established.
func (w *writer) resource(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	mapping, err := w.t.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) || !w.sawCRD() {
		if meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("%w %s: install its CustomResourceDefinition there first, or apply it in the same run", errNotServed, gvk.GroupKind())
		}
		return mapping, err
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		w.t.Mapper.Reset()
		mapping, err = w.t.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		return err == nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w %s 30s after its CustomResourceDefinition was applied", errNotServed, gvk.GroupKind())
	}
	return mapping, nil
}

func (w *writer) client(ctx context.Context, gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	mapping, err := w.resource(ctx, gvk)
	if err != nil {
		return nil, nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if namespace == "" {
			return nil, nil, fmt.Errorf("%s is namespaced but has no namespace", gvk.Kind)
		}
		return w.t.Dynamic.Resource(mapping.Resource).Namespace(namespace), mapping, nil
	}
	return w.t.Dynamic.Resource(mapping.Resource), mapping, nil
}

// apply writes one object, unless the member's copy shows that it holds
// it already: recorded is the Fields digest the inventory holds for the
// object in this member (see holdsAlready).
func (w *writer) apply(ctx context.Context, obj *unstructured.Unstructured, recorded string) outcome {
	gvk := obj.GroupVersionKind()
	ri, mapping, err := w.client(ctx, gvk, obj.GetNamespace())
	if errors.Is(err, errNotServed) {
		return outcome{action: v1alpha1.ActionFailed, message: err.Error(), presence: PresenceAbsent}
	}
	if err != nil {
		return failedBefore(err)
	}
	var notes []string
	if ns := obj.GetNamespace(); ns != "" {
		created, err := w.ensureNamespace(ctx, ns)
		if err != nil {
			return failedBefore(w.forbidden(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", err))
		}
		if created {
			notes = append(notes, "created namespace "+ns)
		}
	}
	existing, err := w.existing(ctx, mapping, obj)
	if err != nil {
		return failedBefore(w.forbidden(gvk, obj.GetNamespace(), err))
	}
	adopting := false
	if existing != nil {
		owner := existing.Labels[v1alpha1.LabelFederation]
		if owner != w.opts.Federation && !w.opts.Adopt {
			who := "is not managed by kfed"
			if owner != "" {
				who = "belongs to federation " + owner
			}
			return outcome{action: v1alpha1.ActionFailed, presence: PresenceAbsent,
				message: fmt.Sprintf("already exists in the cluster and %s; rerun with --adopt to take it over", who)}
		}
		if owner != w.opts.Federation {
			// Adopting takes the object over, fields that its creator
			// owns included.
			adopting = true
			notes = append(notes, "adopted")
		}
		if existing.DeletionTimestamp != nil {
			return outcome{action: v1alpha1.ActionFailed, presence: PresenceHeld,
				message: "is being deleted in the cluster; apply again once it is gone"}
		}
		if !adopting && holdsAlready(existing, obj, recorded) {
			if gvk.Group == "" && gvk.Kind == "Namespace" {
				// It stands, not being deleted: the writes into it
				// need not look for it again.
				w.markNamespace(obj.GetName(), false)
			}
			return outcome{action: v1alpha1.ActionUnchanged, presence: PresenceHeld, fields: recorded, message: strings.Join(notes, "; ")}
		}
	}
	dryRun := w.opts.DryRun
	if dryRun == DryRunServer && w.isMissing(obj.GetNamespace()) {
		// A member cannot dry-run a write into a namespace that a dry run
		// did not really create.
		dryRun = DryRunClient
		notes = append(notes, "namespace "+obj.GetNamespace()+" does not exist yet, so only checked here")
	}
	if dryRun == DryRunClient {
		notes = append(notes, "dry run")
		if existing == nil {
			return outcome{action: v1alpha1.ActionCreated, message: strings.Join(notes, "; ")}
		}
		return outcome{action: v1alpha1.ActionConfigured, message: strings.Join(notes, "; ")}
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return failedBefore(err)
	}
	force := w.opts.ForceConflicts || adopting
	popts := metav1.PatchOptions{FieldManager: v1alpha1.FieldManager, Force: &force}
	if dryRun == DryRunServer {
		popts.DryRun = []string{metav1.DryRunAll}
		notes = append(notes, "server dry run")
	}
	changed, fields, err := w.patch(ctx, ri, mapping, obj, existing, data, popts)
	if err != nil {
		o := failedSending(w.forbidden(gvk, obj.GetNamespace(), err))
		if o.presence != PresenceMaybe {
			// The member answered and refused: it holds what it held.
			o.presence = PresenceAbsent
			if existing != nil && !adopting {
				o.presence = PresenceHeld
			}
		}
		if apierrors.IsConflict(err) {
			o.message += "; rerun with --force-conflicts to take these fields over"
		}
		return o
	}
	if gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition" {
		w.mu.Lock()
		w.crdApplied = true
		w.mu.Unlock()
	}
	if gvk.Group == "" && gvk.Kind == "Namespace" {
		w.markNamespace(obj.GetName(), false)
	}
	o := outcome{message: strings.Join(notes, "; "), presence: PresenceHeld, fields: fields}
	switch {
	case existing == nil:
		o.action = v1alpha1.ActionCreated
	case changed:
		o.action = v1alpha1.ActionConfigured
	default:
		o.action = v1alpha1.ActionUnchanged
	}
	return o
}

// patch sends the server-side apply of obj and reports whether it changed
// the object in the member, and the digest of the fields kfed owns there
// after it (see fieldsDigest). A write that changes nothing keeps the
// object's resourceVersion, so the metadata of the result is all that is
// read back. A dry run keeps the resourceVersion either way: there the
// object is read before and compared after, and no digest is returned,
// since nothing is recorded.
func (w *writer) patch(ctx context.Context, ri dynamic.ResourceInterface, mapping *meta.RESTMapping, obj *unstructured.Unstructured,
	existing *metav1.PartialObjectMetadata, data []byte, opts metav1.PatchOptions) (bool, string, error) {
	if len(opts.DryRun) == 0 {
		result, err := w.metadata(mapping, obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
		if err != nil {
			return false, "", err
		}
		return existing == nil || result.ResourceVersion != existing.ResourceVersion, fieldsDigest(result.ManagedFields), nil
	}
	var before *unstructured.Unstructured
	if existing != nil {
		var err error
		if before, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return false, "", err
		}
	}
	result, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, opts)
	if err != nil {
		return false, "", err
	}
	return before == nil || !sameContent(before, result), "", nil
}

// sameContent compares two versions of an object, ignoring what the server
// changes on every write.
func sameContent(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		unstructured.RemoveNestedField(c.Object, "metadata", "generation")
		return c.Object
	}
	return equality.Semantic.DeepEqual(strip(a), strip(b))
}

func (w *writer) sawCRD() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.crdApplied
}

// delete removes one object if it is kfed's.
func (w *writer) delete(ctx context.Context, it DeleteItem) outcome {
	gone := func(msg string) outcome {
		return outcome{action: v1alpha1.ActionDeleted, message: msg, presence: PresenceAbsent}
	}
	gv, err := schema.ParseGroupVersion(it.APIVersion)
	if err != nil {
		return failedBefore(err)
	}
	ri, mapping, err := w.client(ctx, gv.WithKind(it.Key.Kind), it.Key.Namespace)
	if err != nil {
		if errors.Is(err, errNotServed) {
			return gone("already gone: the cluster no longer serves its kind")
		}
		return failedBefore(err)
	}
	existing, err := w.metadata(mapping, it.Key.Namespace).Get(ctx, it.Key.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return gone("already gone")
	}
	if err != nil {
		o := failedBefore(w.forbidden(gv.WithKind(it.Key.Kind), it.Key.Namespace, err))
		o.action = v1alpha1.ActionPendingDeletion
		return o
	}
	if owner := existing.Labels[v1alpha1.LabelFederation]; owner != w.opts.Federation {
		return gone("left in place: the object in the cluster is not this federation's")
	}
	if w.opts.DryRun != DryRunNone {
		return outcome{action: v1alpha1.ActionDeleted, message: "dry run", presence: PresenceHeld}
	}
	// Background propagation: the member's garbage collector removes what
	// the object owns; kfed adds no finalizer, so nothing waits on kfed.
	policy := metav1.DeletePropagationBackground
	err = ri.Delete(ctx, it.Key.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: ptrUID(existing.GetUID())}})
	if err != nil && !apierrors.IsNotFound(err) {
		o := failedSending(w.forbidden(gv.WithKind(it.Key.Kind), it.Key.Namespace, err))
		o.action = v1alpha1.ActionPendingDeletion
		if o.presence != PresenceMaybe {
			o.presence = PresenceHeld
		}
		return o
	}
	return gone("")
}

func ptrUID(u types.UID) *types.UID { return &u }
