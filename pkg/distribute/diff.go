package distribute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/redact"
)

// States of a Difference.
const (
	// StateChanged: the member holds the object, and a write would change it.
	StateChanged = "changed"
	// StateMissing: the member lacks the object, and a write would create it.
	StateMissing = "missing"
	// StateExtra: the member holds the object where it is no longer placed.
	StateExtra = "extra"
	// StateUnmanaged: the object exists in the member and is not kfed's.
	StateUnmanaged = "unmanaged"
	// StateRefused: the member refuses the write: for good when Lasting,
	// so that neither apply nor sync can put the object there as it is, or
	// for now (its namespace is being deleted, say).
	StateRefused = "refused"
	// StateError: the comparison itself failed.
	StateError = "error"
)

// Difference is how one object in one member differs from what the
// federation would write there.
type Difference struct {
	Cluster string
	Key     inventory.Key
	// Object names the object, as inventory keys read.
	Object string
	// State is one of the State constants.
	State string
	// Diff is a unified diff from the live object to the one kfed would
	// write, for StateChanged.
	Diff string
	// Message explains the state; for StateRefused and StateError it is
	// the member's error.
	Message string
	// Exists is whether the member holds the object now.
	Exists bool
	// Lasting is set for StateRefused when writing again cannot help
	// until the object or the member changes (see Refused).
	Lasting bool
}

// DiffOptions shape a comparison.
type DiffOptions struct {
	Federation string
	// Concurrency bounds how many members are compared at once; 0 means 8.
	// Within a member, objects are compared objectWorkers at a time, as
	// Apply writes them.
	Concurrency int
	// Recorded holds the inventory's last result of each object in each
	// member, so that a missing object can be told apart from one deleted
	// behind kfed's back, and a refusal explained.
	Recorded map[inventory.Key]map[string]v1alpha1.ClusterResult
	// Progress, if set, is called after each object and member.
	Progress func(done, total int)
}

// Diff compares each plan with the live objects of the Ready members it
// selects. The would-be object comes from a server-side dry run of the same
// forced apply sync makes, so defaults, validation and admission are
// accounted for: only real changes show, and an object the member would
// refuse is reported as refused rather than as something a write creates.
//
// It fans out like Apply: members in parallel, objects in parallel within a
// member, and the live objects of a kind and namespace read with one list
// when many are compared. The differences come back in member order, then
// in the order of plans.
func Diff(ctx context.Context, targets []*Target, plans []*Plan, opts DiffOptions) []Difference {
	var ready []*Target
	total := 0
	for _, t := range targets {
		if !t.Ready {
			continue
		}
		ready = append(ready, t)
		for _, p := range plans {
			if _, ok := p.Objects[t.Name()]; ok {
				total++
			}
		}
	}
	// Kinds whose CustomResourceDefinition is planned: in a member that
	// does not serve them yet, sync writes the definition first.
	defined := map[schema.GroupKind]bool{}
	for _, p := range plans {
		if gk, ok := definedKind(p.Template); ok {
			defined[gk] = true
		}
	}
	var mu sync.Mutex
	byTarget := map[string][]Difference{}
	var done atomic.Int64
	fanout.Each(ready, memberConcurrency(opts.Concurrency), func(t *Target) {
		c := newComparer(t, opts, defined)
		for _, p := range plans {
			if obj, ok := p.Objects[t.Name()]; ok {
				c.w.planned[listKeyOf(obj)]++
			}
		}
		found := make([]*Difference, len(plans))
		fanout.Each(sequence(len(plans)), objectWorkers, func(i int) {
			obj, ok := plans[i].Objects[t.Name()]
			if !ok {
				return
			}
			found[i] = c.compare(ctx, plans[i], obj)
			if opts.Progress != nil {
				opts.Progress(int(done.Add(1)), total)
			}
		})
		var ds []Difference
		for _, d := range found {
			if d != nil {
				ds = append(ds, *d)
			}
		}
		mu.Lock()
		byTarget[t.Name()] = ds
		mu.Unlock()
	})
	var out []Difference
	for _, t := range ready {
		out = append(out, byTarget[t.Name()]...)
	}
	return out
}

func sequence(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// definedKind returns the kind a CustomResourceDefinition defines.
func definedKind(u *unstructured.Unstructured) (schema.GroupKind, bool) {
	if u.GetKind() != "CustomResourceDefinition" || u.GroupVersionKind().Group != "apiextensions.k8s.io" {
		return schema.GroupKind{}, false
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: group, Kind: kind}, kind != ""
}

// comparer compares plans with one member. Its methods may run
// concurrently.
type comparer struct {
	w        *writer
	recorded map[inventory.Key]map[string]v1alpha1.ClusterResult
	defined  map[schema.GroupKind]bool

	mu sync.Mutex
	// lists holds the live objects of a kind and namespace, read once.
	lists map[listKey]*listed[*unstructured.Unstructured]
}

func newComparer(t *Target, opts DiffOptions, defined map[schema.GroupKind]bool) *comparer {
	w := newWriter(t, Options{Federation: opts.Federation, ForceConflicts: true, DryRun: DryRunServer})
	return &comparer{w: w, recorded: opts.Recorded, defined: defined, lists: map[listKey]*listed[*unstructured.Unstructured]{}}
}

// compare returns how obj differs in the member, or nil when it does not.
func (c *comparer) compare(ctx context.Context, p *Plan, obj *unstructured.Unstructured) *Difference {
	cluster := c.w.t.Name()
	d := &Difference{Cluster: cluster, Key: p.Key, Object: p.Key.String()}
	last, hasLast := c.recorded[p.Key][cluster]
	ri, _, err := c.w.client(ctx, obj.GroupVersionKind(), obj.GetNamespace())
	switch {
	case errors.Is(err, errNotServed) && c.defined[obj.GroupVersionKind().GroupKind()]:
		d.State, d.Message = StateMissing, "its kind is not served there yet; apply or sync creates its CustomResourceDefinition first"
		return d
	case errors.Is(err, errNotServed):
		d.State, d.Message, d.Lasting = StateRefused, err.Error(), true
		return d
	case err != nil:
		d.State, d.Message = StateError, err.Error()
		return d
	}
	live, err := c.live(ctx, ri, obj)
	if err != nil {
		d.State, d.Message = StateError, err.Error()
		return d
	}
	d.Exists = live != nil
	if live != nil && live.GetLabels()[v1alpha1.LabelFederation] != c.w.opts.Federation {
		d.State, d.Message = StateUnmanaged, "exists in the cluster and is not this federation's; apply --adopt takes it over"
		return d
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		d.State, d.Message = StateError, err.Error()
		return d
	}
	force := true
	dryRun := func() (*unstructured.Unstructured, error) {
		return ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			FieldManager: v1alpha1.FieldManager, Force: &force, DryRun: []string{metav1.DryRunAll},
		})
	}
	want, err := dryRun()
	// A listed object may have changed since the list (a controller writing
	// its status, say), and comparing the two would show that change as
	// kfed's. A dry run keeps the resourceVersion of the object it applies
	// to, so a different one says live is stale: read it again, and dry-run
	// again should it have moved once more.
	for i := 0; i < staleRetries && err == nil && live != nil && want.GetResourceVersion() != live.GetResourceVersion(); i++ {
		fresh, gerr := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(gerr):
			live = nil
			want, err = dryRun()
		case gerr != nil:
			d.State, d.Message = StateError, gerr.Error()
			return d
		default:
			live = fresh
			if live.GetResourceVersion() != want.GetResourceVersion() {
				want, err = dryRun()
			}
		}
	}
	d.Exists = live != nil
	if live != nil && live.GetLabels()[v1alpha1.LabelFederation] != c.w.opts.Federation {
		d.State, d.Message = StateUnmanaged, "exists in the cluster and is not this federation's; apply --adopt takes it over"
		return d
	}
	lastFailed := ""
	if hasLast && last.Action == v1alpha1.ActionFailed && last.Message != "" {
		lastFailed = "; its last write there failed: " + last.Message
	}
	switch {
	case err != nil && Refused(err):
		d.State, d.Message, d.Lasting = StateRefused, err.Error(), true
	case err != nil && live == nil && apierrors.IsNotFound(err):
		// Only the namespace can be missing for an apply. A member cannot
		// dry-run a write into a namespace a write would create, so what
		// it would make of the object is not known: no promise then.
		d.State = StateMissing
		d.Message = fmt.Sprintf("not in the cluster yet, nor its namespace %s; apply or sync creates the namespace, then writes the object", obj.GetNamespace())
		if lastFailed != "" {
			d.Message += fmt.Sprintf(", which the cluster may refuse again%s", lastFailed)
		}
	case err != nil && answered(err):
		d.State, d.Message = StateRefused, err.Error()
	case err != nil:
		d.State, d.Message = StateError, err.Error()
	case live == nil:
		d.State = StateMissing
		if hasLast && succeeded(last.Action) {
			d.Message = "deleted directly in the cluster; sync creates it again"
		} else {
			d.Message = "not in the cluster yet; apply or sync creates it" + lastFailed
		}
	case sameContent(live, want):
		return nil
	default:
		text, err := unifiedDiff(live, want, cluster+"/"+p.Key.String())
		switch {
		case err != nil:
			d.State, d.Message = StateError, err.Error()
		case text == "":
			return nil
		default:
			d.State, d.Diff = StateChanged, text
		}
	}
	return d
}

func succeeded(action string) bool {
	switch action {
	case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
		return true
	}
	return false
}

// Refused reports whether err is a member refusing a write for what the
// object is, which trying again cannot change: it is invalid, malformed,
// too large, or of a kind the member does not serve.
func Refused(err error) bool {
	return errors.Is(err, errNotServed) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsRequestEntityTooLargeError(err)
}

// staleRetries bounds how often an object that keeps changing is read
// again; the last comparison stands.
const staleRetries = 3

// answered reports whether err is the member's own verdict on the write,
// rather than no answer, a fault of the server, or a request to slow down:
// a verdict is a difference diff found, the others mean it could not look.
func answered(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	code := status.Status().Code
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

func unifiedDiff(live, want *unstructured.Unstructured, name string) (string, error) {
	// As kubectl diff does: a Secret's changed keys show, never its values.
	live, want = redact.SecretPair(live, want)
	a, err := diffYAML(live)
	if err != nil {
		return "", err
	}
	b, err := diffYAML(want)
	if err != nil {
		return "", err
	}
	if a == b {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: name + " (live)", ToFile: name + " (federation)",
		Context: 3,
	})
}

// diffYAML renders an object without the fields the server changes on every
// write, which would only be noise.
func diffYAML(u *unstructured.Unstructured) (string, error) {
	c := u.DeepCopy()
	for _, f := range [][]string{
		{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
	} {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	b, err := yaml.Marshal(c.Object)
	return strings.TrimRight(string(b), "\n") + "\n", err
}
