package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
)

// fedSession is what the distributing commands share: the host's store, the
// federation, its inventory and its members, connected.
type fedSession struct {
	store      *store.Store
	federation *v1alpha1.Federation
	inventory  *inventory.Inventory
	targets    []*distribute.Target

	// listed caches the inventory, read once per command.
	listed []*inventory.Entry
}

// entries returns the federation's inventory, reading it on first use. A
// command reads it once: what it writes afterwards concerns objects it
// already knows.
func (fs *fedSession) entries(ctx context.Context) ([]*inventory.Entry, error) {
	if fs.listed != nil {
		return fs.listed, nil
	}
	list, err := fs.inventory.List(ctx)
	if err != nil {
		return nil, err
	}
	if list == nil {
		list = []*inventory.Entry{}
	}
	fs.listed = list
	return list, nil
}

// lookup returns the inventory's entries for the objects of plans: from the
// inventory already read, or else by reading only theirs, so that an apply
// costs the same however much else the federation holds.
func (fs *fedSession) lookup(ctx context.Context, plans []*distribute.Plan) (map[inventory.Key]*inventory.Entry, error) {
	if fs.listed != nil {
		prev := map[inventory.Key]*inventory.Entry{}
		for _, e := range fs.listed {
			prev[e.Key()] = e
		}
		return prev, nil
	}
	keys := make([]inventory.Key, len(plans))
	for i, p := range plans {
		keys[i] = p.Key
	}
	return fs.inventory.Lookup(ctx, keys)
}

// checkConcurrency validates --concurrency.
func checkConcurrency(n int) error {
	if n < 1 {
		return errors.New("--concurrency must be at least 1")
	}
	return nil
}

// inventoryWriters bounds the inventory records written at once.
const inventoryWriters = 32

// memberTimeout is the default bound on reaching one member.
const memberTimeout = 10 * time.Second

// Client rate limits of the distributing commands. Their requests are many
// small ones: one write per object and member, plus one or two records per
// object in the host (journalled, then settled); client-go's defaults (5 per
// second) would make a 200-object apply take minutes. Neither the host nor
// a member should wait on kfed's own limiter rather than on its API server:
// at 100 per second, a member written 2,000 objects waited 17 s whatever
// its server could do. objectWorkers and inventoryWriters bound the
// requests in flight, and the API servers' own priority and fairness
// protects them.
const (
	hostQPS     = 500
	hostBurst   = 1000
	memberQPS   = 500
	memberBurst = 1000
)

func openSession(ctx context.Context, host *hostFlags, federation string, timeout time.Duration) (*fedSession, error) {
	cfg, err := host.configFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = hostQPS, hostBurst
	// --request-timeout, read by ToRESTConfig as kubectl reads it, bounds
	// every request to the host and to the members alike; 0, its default,
	// would let a server that stops answering hold the command for ever.
	if cfg.Timeout == 0 {
		cfg.Timeout = distribute.DefaultRequestTimeout
	}
	s, err := store.New(cfg)
	if err != nil {
		return nil, err
	}
	fed, err := s.Federation(ctx, federation)
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		timeout = memberTimeout
		if d := fed.Spec.Defaults.ClusterTimeout; d != nil && d.Duration > 0 {
			timeout = d.Duration
		}
	}
	inv, err := inventory.New(s, fed.Name)
	if err != nil {
		return nil, err
	}
	members, err := s.Members(ctx, fed.Name)
	if err != nil {
		return nil, err
	}
	// The credentials that refresh read and left as they were serve the
	// connections too: one read of each Secret per command.
	fresh := host.refresh(ctx, s, fed, members)
	targets := distribute.Connect(ctx, s, members, distribute.ConnectOptions{
		Timeout: timeout, RequestTimeout: cfg.Timeout, QPS: memberQPS, Burst: memberBurst, Credentials: fresh,
	})
	return &fedSession{store: s, federation: fed, inventory: inv, targets: targets}, nil
}

// warnNotReady prints one warning per member that cannot be reached.
func (fs *fedSession) warnNotReady(w io.Writer) {
	for _, t := range fs.targets {
		if !t.Ready {
			fmt.Fprintf(w, "Warning: cluster %s is not ready and is left out: %s\n", t.Name(), t.Reason)
		}
	}
}

// readObjects reads manifests as kubectl apply does: files, directories
// (with -R), URLs and stdin, in order. Nothing is sent to a server.
func readObjects(host *hostFlags, opts *resource.FilenameOptions) ([]*unstructured.Unstructured, error) {
	r := resource.NewBuilder(host.configFlags).
		Unstructured().
		Local().
		ContinueOnError().
		FilenameParam(false, opts).
		Flatten().
		Do()
	infos, err := r.Infos()
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, info := range infos {
		u, ok := info.Object.(*unstructured.Unstructured)
		if !ok {
			return nil, fmt.Errorf("%s: not a Kubernetes object", info.Source)
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no objects passed to apply")
	}
	return objs, nil
}

// defaultNamespaces gives namespaced objects without a namespace the one -n
// or the context names, as kubectl does, and refuses objects whose namespace
// disagrees with an explicit -n. Whether a kind is namespaced is read from
// CRDs in the input, then from the Ready members.
func defaultNamespaces(objs []*unstructured.Unstructured, targets []*distribute.Target, namespace string, explicit bool) error {
	crdScope := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" && o.GroupVersionKind().Group == "apiextensions.k8s.io" {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crdScope[schema.GroupKind{Group: group, Kind: kind}] = scope == "Namespaced"
		}
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		namespaced, known := crdScope[gvk.GroupKind()]
		if !known {
			for _, t := range targets {
				if !t.Ready {
					continue
				}
				m, err := t.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
				if err == nil {
					namespaced, known = m.Scope.Name() == meta.RESTScopeNameNamespace, true
					break
				}
			}
		}
		if !known {
			return fmt.Errorf("%s %q: no Ready member serves kind %s, and no CustomResourceDefinition for it is in the input", gvk.Kind, o.GetName(), gvk.GroupKind())
		}
		if !namespaced {
			if o.GetNamespace() != "" {
				o.SetNamespace("")
			}
			continue
		}
		switch ns := o.GetNamespace(); {
		case ns == "":
			o.SetNamespace(namespace)
		case explicit && ns != namespace:
			return fmt.Errorf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation", ns, namespace, ns)
		}
	}
	return nil
}

// printResults prints the OBJECT, CLUSTER, ACTION, REPLICAS, MESSAGE table.
func printResults(w io.Writer, results []distribute.Result) error {
	// The tab writer writes each cell on its own: to a terminal or pipe,
	// a write call each, thousands for a large apply.
	buf := bufio.NewWriter(w)
	tw := printers.GetNewTabWriter(buf)
	fmt.Fprintln(tw, "OBJECT\tCLUSTER\tACTION\tREPLICAS\tMESSAGE")
	for _, r := range results {
		replicas := "-"
		if r.Replicas != nil {
			replicas = fmt.Sprint(*r.Replicas)
		}
		msg := r.Message
		if msg == "" {
			msg = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Key, r.Cluster, r.Action, replicas, oneLineMessage(msg))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return buf.Flush()
}

// oneLineMessage keeps a table row on one line.
func oneLineMessage(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// failures counts failed results and returns an error saying so, or nil.
func failures(results []distribute.Result) error {
	failed := 0
	clusters := map[string]bool{}
	for _, r := range results {
		if r.Failed() {
			failed++
			clusters[r.Cluster] = true
		}
	}
	if failed == 0 {
		return nil
	}
	var names []string
	for c := range clusters {
		names = append(names, c)
	}
	return fmt.Errorf("%d of %d writes failed, in %s; see MESSAGE above, then re-run or `kubectl fed sync`", failed, len(results), strings.Join(sortedStrings(names), ", "))
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// progress returns a reporter that redraws one line on a terminal, and nil
// when w is not a terminal, so that logs and pipes stay clean. Writers of
// many objects at once call it from many goroutines.
func progress(w io.Writer, verb string) func(done, total int) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	var mu sync.Mutex
	last := time.Time{}
	return func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if done < total && time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "\r%s: %d/%d", verb, done, total)
		if done == total {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

// addDistributeFlags adds the flags that writing commands share.
func addDistributeFlags(cmd *cobra.Command, timeout *time.Duration, concurrency *int) {
	cmd.Flags().DurationVar(timeout, "timeout", 0, "How long to wait for each member to answer before leaving it out, and to connect to it. 0 means the federation's default, 10s unless init set another. Each request, to the host or a member, is bounded by --request-timeout, 30s unless given.")
	cmd.Flags().IntVar(concurrency, "concurrency", 8, "How many members are written at once.")
}

// push writes plans to the members, takes each object out of the members
// its placement no longer selects, and records the outcome in the inventory
// (unless it is a dry run). applySet names the set each object joins.
//
// The inventory is written around the writes, not after them (see
// distribute.Recorder): objects are journalled before the first write and
// recorded as each finishes in every member, so that a member that hangs,
// or the end of the process, cannot leave objects in members that the
// inventory does not know.
func (fs *fedSession) push(ctx context.Context, plans []*distribute.Plan, applySet func(inventory.Key) string, opts distribute.Options) ([]distribute.Result, error) {
	prev, err := fs.lookup(ctx, plans)
	if err != nil {
		return nil, err
	}
	// What the last command left in each member lets the writers skip the
	// objects that members hold as they would be written.
	opts.Recorded = make(map[inventory.Key]map[string]v1alpha1.ClusterResult, len(prev))
	for k, e := range prev {
		opts.Recorded[k] = resultsByCluster(e.Record)
	}
	// Members that held an object and that its placement no longer selects.
	removals := map[string][]distribute.DeleteItem{}
	var leaving []inventory.Key
	for _, p := range plans {
		e := prev[p.Key]
		if e == nil {
			continue
		}
		selected := map[string]bool{}
		for _, c := range p.Selected() {
			selected[c] = true
		}
		leaves := false
		for _, c := range e.Record.Status.Clusters {
			if !selected[c.Name] && c.Action != v1alpha1.ActionDeleted {
				removals[c.Name] = append(removals[c.Name], distribute.DeleteItem{Key: p.Key, APIVersion: e.Template.GetAPIVersion()})
				leaves = true
			}
		}
		if leaves {
			leaving = append(leaving, p.Key)
		}
	}
	if opts.DryRun != distribute.DryRunNone {
		results := distribute.Apply(ctx, fs.targets, plans, opts)
		if len(removals) > 0 {
			results = append(results, distribute.Delete(ctx, fs.targets, removals, opts)...)
			distribute.SortResults(results)
		}
		return results, nil
	}
	rec := distribute.NewRecorder(ctx, fs.inventory, prev, applySet, inventoryWriters)
	rec.Progress = opts.Recording
	if err := rec.Journal(plans); err != nil {
		rec.Close()
		return nil, err
	}
	rec.Await(leaving)
	opts.Finished = rec.Finished
	results := distribute.Apply(ctx, fs.targets, plans, opts)
	if len(removals) > 0 {
		removed := distribute.Delete(ctx, fs.targets, removals, opts)
		rec.Removed(removed)
		results = append(results, removed...)
		distribute.SortResults(results)
	}
	return results, rec.Close()
}
