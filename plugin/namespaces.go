package plugin

import (
	"context"
	"fmt"
	"sort"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/occupants"
)

// actionLeft is the result of a namespace kfed created that it leaves in
// a member, because something else lives there. It is no failure: the
// namespace is not kfed's to remove any more.
const actionLeft = "left"

var gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// removeCreatedNamespaces removes the namespaces that apply created in a
// member for objects that deleted has just taken out of it (labelled as
// kfed's, and not federated themselves), once nothing but kfed's objects
// and what Kubernetes puts in every namespace is left in them (see package
// occupants). stays holds every object the federation still places: its
// objects in such a namespace keep it too. A namespace that stays gets a
// row saying what it holds; one kfed did not create, or federates on
// purpose, is not mentioned.
//
// A namespace is judged from one scan of what it holds; an object created
// in it between that scan and the namespace's deletion goes with it. The
// federation's lock keeps kfed's own commands out of that window.
func removeCreatedNamespaces(ctx context.Context, fs *fedSession, deleted []distribute.Result, stays map[inventory.Key]bool, opts distribute.Options) []distribute.Result {
	byMember := map[string]map[string]bool{}
	for _, r := range deleted {
		if r.Action != v1alpha1.ActionDeleted || r.Key.Namespace == "" {
			continue
		}
		if byMember[r.Cluster] == nil {
			byMember[r.Cluster] = map[string]bool{}
		}
		byMember[r.Cluster][r.Key.Namespace] = true
	}
	var targets []*distribute.Target
	for _, t := range fs.targets {
		if t.Ready && t.Silent() == nil && len(byMember[t.Name()]) > 0 {
			targets = append(targets, t)
		}
	}
	var (
		mu      sync.Mutex
		results []distribute.Result
	)
	forEachMember(targets, opts.Concurrency, func(t *distribute.Target) {
		c := &namespaceCleaner{fs: fs, t: t, stays: stays, dryRun: opts.DryRun != distribute.DryRunNone}
		fanout.Each(keysOf(byMember[t.Name()]), namespaceWorkers, func(ns string) {
			r, ok := c.clean(ctx, ns)
			if !ok {
				return
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		})
	})
	distribute.SortResults(results)
	return results
}

// namespaceWorkers bounds the namespaces of one member judged at once.
// Each scan has its own bound on lists in flight (occupants.Scanner), so a
// member sees at most their product: 32.
const namespaceWorkers = 4

// namespaceCleaner removes namespaces apply created in one member. Its
// methods may run concurrently.
type namespaceCleaner struct {
	fs     *fedSession
	t      *distribute.Target
	stays  map[inventory.Key]bool
	dryRun bool

	once    sync.Once
	scanner *occupants.Scanner
	err     error
}

// clean removes namespace ns if kfed created it and nothing else lives in
// it, and returns the row to report, if any.
func (c *namespaceCleaner) clean(ctx context.Context, ns string) (distribute.Result, bool) {
	key := inventory.Key{Kind: "Namespace", Name: ns}
	r := distribute.Result{Key: key, Cluster: c.t.Name()}
	nsClient := c.t.Metadata.Resource(gvrNamespaces)
	live, err := nsClient.Get(ctx, ns, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return r, false
	case err != nil:
		r.Action, r.Message = actionLeft, fmt.Sprintf("could not read it, so it stays: %v", err)
		return r, true
	case live.DeletionTimestamp != nil,
		live.Labels[v1alpha1.LabelFederation] != c.fs.federation.Name,
		live.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedBy,
		c.stays[key]:
		// Going already, not made by kfed for this federation, or a
		// Namespace federated on purpose: not this cleanup's to remove.
		return r, false
	}
	c.once.Do(func() { c.scanner, c.err = c.newScanner(ctx) })
	if c.err != nil {
		r.Action, r.Message = actionLeft, fmt.Sprintf("could not check what it holds, so it stays: %v", c.err)
		return r, true
	}
	verdict, err := c.scanner.Scan(ctx, ns, occupants.Owner{
		Federation: c.fs.federation.Name,
		Kept: func(gk schema.GroupKind, name string) bool {
			return c.stays[inventory.Key{Group: gk.Group, Kind: gk.Kind, Namespace: ns, Name: name}]
		},
	})
	if err != nil {
		r.Action, r.Message = actionLeft, fmt.Sprintf("could not check what it holds, so it stays: %v", err)
		return r, true
	}
	if !verdict.Removable() {
		r.Action, r.Message = actionLeft, verdict.Reason()
		return r, true
	}
	r.Action, r.Message = v1alpha1.ActionDeleted, "apply created it; nothing but kfed's objects was left in it"
	if c.dryRun {
		r.Message += "; dry run"
		return r, true
	}
	// The UID precondition keeps a namespace made anew since the scan.
	policy := metav1.DeletePropagationBackground
	uid := live.UID
	err = nsClient.Delete(ctx, ns, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		r.Action, r.Message = actionLeft, fmt.Sprintf("deleting it failed, so it stays: %v", err)
	}
	return r, true
}

// newScanner connects a scanner to the member, with the manager identity
// and the distributing commands' rate limits. Its metadata client is its
// own, since a scan's requests must not print warnings.
func (c *namespaceCleaner) newScanner(ctx context.Context) (*occupants.Scanner, error) {
	cfg, _, err := c.fs.store.MemberConfig(ctx, &c.t.Cluster, v1alpha1.IdentityManager)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = memberQPS, memberBurst
	cfg.Timeout = c.t.RequestTimeout
	// A scan lists every kind, deprecated ones too; their warnings are
	// not the user's business here.
	cfg.WarningHandler = rest.NoWarnings{}
	return occupants.NewScanner(cfg)
}

// stillPlaced returns the keys of entries, less those of gone, plus more:
// what the federation places once a delete or prune is done.
func stillPlaced(entries, gone []*inventory.Entry, more ...inventory.Key) map[inventory.Key]bool {
	out := map[inventory.Key]bool{}
	for _, e := range entries {
		out[e.Key()] = true
	}
	for _, e := range gone {
		delete(out, e.Key())
	}
	for _, k := range more {
		out[k] = true
	}
	return out
}

// forEachMember calls fn for each target, at most limit at once (8 for 0).
func forEachMember(targets []*distribute.Target, limit int, fn func(*distribute.Target)) {
	if limit <= 0 {
		limit = 8
	}
	fanout.Each(targets, limit, fn)
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
