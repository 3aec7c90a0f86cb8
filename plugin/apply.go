package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

var (
	applyLong = templates.LongDesc(i18n.T(`
		Apply manifests once, to every member cluster their placement selects.

		Input is read as kubectl apply reads it. Each object goes, by default, to every
		Ready member. Annotations on the object narrow that down and shape it:

		    kfed.dev/clusters: usa,eur               only these members
		    kfed.dev/cluster-selector: env=prod      members whose Cluster labels match
		    kfed.dev/replica-weights: usa=2,eur=1    split spec.replicas by weight (default 1 each)
		    kfed.dev/replica-min: usa=1              fewest replicas a member gets
		    kfed.dev/replica-max: jpn=3              most replicas a member gets
		    kfed.dev/overrides: "[{clusters: [jpn], jsonPatch: [{op: replace, path: /spec/template/spec/containers/0/image, value: web:jp}]}]"

		A cluster selector also matches topology.kubernetes.io/region, topology.kubernetes.io/zone
		and kfed.dev/cluster (the member's name). Each override names clusters or a clusterSelector,
		and carries a jsonPatch (RFC 6902) or a mergePatch (RFC 7386); they apply in order.
		Overrides may not change an object's kind, name or namespace, nor kfed's own labels and
		annotations (kfed.dev/*, app.kubernetes.io/managed-by). An object whose placement selects
		no member is refused, unless --allow-empty says that is meant.

		Workloads with spec.replicas are split over the members; the rest are copied
		whole. Members that are not Ready are left out, their share goes to the others,
		and the run ends with a non-zero exit code: re-run, or run kubectl fed sync
		when they are back.

		Everything is checked before the first write. Objects are written with
		server-side apply (field manager kubectl-fed), members in parallel, CRDs and
		Namespaces first, and recorded in the host's inventory: as pending before they
		are written, then with each member's outcome as soon as every member answered,
		so that an apply that is interrupted leaves nothing the inventory does not know.
		Objects that every member refuses are reported and not recorded.

		An object that a member already holds as this apply would write it is not sent
		again, and is reported unchanged, so that re-applying the same manifests (as
		GitOps loops do) writes nothing. Every object kfed writes carries the annotation
		kfed.dev/applied-digest, a digest of what was sent, and the inventory records a
		digest of the fields kfed owns in each member's copy (its managedFields entry).
		One list of metadata per kind and namespace in each member compares both. An
		object whose manifest changed is written. So is one changed in a member since:
		whoever changes or removes a field kfed set takes that field over, which changes
		kfed's digest. A field taken over is reported as a conflict, as kubectl apply
		--server-side reports it, until --force-conflicts takes it back; kubectl fed diff
		shows the change.

		Every request, to the host or a member, gives up after --request-timeout (30s
		unless given). A member that stops answering is reported failed, with the rest
		of its writes, as soon as one of its requests does; the other members finish.`))

	applyExample = templates.Examples(i18n.T(`
		# Apply a manifest to every member
		kubectl fed apply -f app.yaml --context usa

		# Apply a directory, recursively, and delete what left it since the last run
		kubectl fed apply -f manifests/ -R --applyset shop --prune

		# See what would happen, validated by every member, without changing anything
		kubectl fed apply -f app.yaml --dry-run=server

		# Take over objects that already exist in the members
		kubectl fed apply -f app.yaml --adopt`))
)

// ApplyOptions holds the flags of `kubectl fed apply`.
type ApplyOptions struct {
	FilenameOptions resource.FilenameOptions
	Federation      string
	DryRun          string
	ForceConflicts  bool
	Adopt           bool
	Prune           bool
	ApplySet        string
	AllowEmpty      bool
	Concurrency     int
	Timeout         time.Duration

	dryRun    distribute.DryRun
	namespace string
	explicit  bool

	host *hostFlags
	genericiooptions.IOStreams
}

// NewApplyOptions returns ApplyOptions writing to streams.
func NewApplyOptions(host *hostFlags, streams genericiooptions.IOStreams) *ApplyOptions {
	return &ApplyOptions{host: host, IOStreams: streams, DryRun: "none"}
}

// NewCmdApply returns `kubectl fed apply`.
func NewCmdApply(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewApplyOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "apply -f FILENAME [--dry-run=client|server] [--prune --applyset NAME]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Apply manifests to every member cluster their placement selects"),
		Long:                  applyLong,
		Example:               applyExample,
		Args:                  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "the manifests to apply")
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringVar(&o.DryRun, "dry-run", o.DryRun, `Must be "none", "server", or "client". With "client", members are only read; with "server", every write is validated by the member and not persisted.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	cmd.Flags().BoolVar(&o.ForceConflicts, "force-conflicts", false, "Take over fields that another field manager owns in a member, instead of failing there.")
	cmd.Flags().BoolVar(&o.Adopt, "adopt", false, "Take over objects that exist in a member but were not put there by this federation.")
	cmd.Flags().BoolVar(&o.Prune, "prune", false, "Delete, from every member and the inventory, the objects of --applyset that are not in the input.")
	cmd.Flags().StringVar(&o.ApplySet, "applyset", "", "Name of the set these objects belong to; --prune works on one set.")
	cmd.Flags().BoolVar(&o.AllowEmpty, "allow-empty", false, "Apply and record objects whose placement selects no member, instead of refusing them.")
	addDistributeFlags(cmd, &o.Timeout, &o.Concurrency)
	return cmd
}

// Complete reads the namespace flags.
func (o *ApplyOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	var err error
	o.namespace, o.explicit, err = o.host.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	switch o.DryRun {
	case "none", "":
		o.dryRun = distribute.DryRunNone
	case "client":
		o.dryRun = distribute.DryRunClient
	case "server":
		o.dryRun = distribute.DryRunServer
	default:
		return cmdutil.UsageErrorf(cmd, `--dry-run must be "none", "server", or "client", not %q`, o.DryRun)
	}
	return nil
}

// Validate checks the flags.
func (o *ApplyOptions) Validate() error {
	if len(o.FilenameOptions.Filenames) == 0 {
		return errors.New("must specify -f: the manifests to apply (a file, a directory, a URL, or - for stdin)")
	}
	if o.Prune && o.ApplySet == "" {
		return errors.New("--prune needs --applyset NAME: the set whose objects that are no longer in the input are deleted")
	}
	if err := checkConcurrency(o.Concurrency); err != nil {
		return err
	}
	return nil
}

// Run applies the manifests.
func (o *ApplyOptions) Run(ctx context.Context) error {
	objs, fs, err := readWhileOpening(ctx, o.host, &o.FilenameOptions, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
	if len(fs.targets) == 0 {
		return fmt.Errorf("federation %s has no members: join one with `kubectl fed join NAME --cluster-context CONTEXT`", fs.federation.Name)
	}
	plans, err := planAll(fs, objs, o.namespace, o.explicit)
	if err != nil {
		return err
	}
	if err := refuseInvalidNames(plans); err != nil {
		return err
	}
	if !o.AllowEmpty {
		if err := refuseEmptyPlacement(plans, fs.targets); err != nil {
			return err
		}
	}
	if o.dryRun == distribute.DryRunNone {
		release, err := fs.lock(ctx, "kubectl fed apply", o.ErrOut)
		if err != nil {
			return err
		}
		defer release()
	}
	fs.warnNotReady(o.ErrOut)
	warnPlans(o, plans)

	opts := distribute.Options{
		Federation:     fs.federation.Name,
		ForceConflicts: o.ForceConflicts,
		Adopt:          o.Adopt,
		DryRun:         o.dryRun,
		Concurrency:    o.Concurrency,
		Progress:       progress(o.ErrOut, "applying"),
		Recording:      progress(o.ErrOut, "recording"),
	}
	results, recordErr := fs.push(ctx, plans, func(inventory.Key) string { return o.ApplySet }, opts)
	if o.Prune {
		pruned, err := o.prune(ctx, fs, plans, opts)
		results = append(results, pruned...)
		recordErr = errors.Join(recordErr, err)
		distribute.SortResults(results)
	}
	if err := printResults(o.Out, results); err != nil {
		return err
	}
	return errors.Join(recordErr, failures(results))
}

// explainRead says what kubectl's decoder leaves unsaid when a document
// of the input is YAML but not a mapping (a list, a string): it reports
// only that it cannot fill a Go type of its own.
func explainRead(err error) error {
	if strings.Contains(err.Error(), "unstructured.detector") {
		return fmt.Errorf("%w: each document of the input must be a Kubernetes object, a mapping with apiVersion, kind and metadata; nothing was applied", err)
	}
	return err
}

// planAll plans every object; any error stops the run before a write.
func planAll(fs *fedSession, objs []*unstructured.Unstructured, namespace string, explicit bool) ([]*distribute.Plan, error) {
	if err := defaultNamespaces(objs, fs.targets, namespace, explicit); err != nil {
		return nil, err
	}
	var plans []*distribute.Plan
	var errs []error
	seen := map[inventory.Key]bool{}
	for _, obj := range objs {
		p, err := distribute.NewPlan(fs.federation.Name, obj, fs.targets)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[p.Key] {
			errs = append(errs, fmt.Errorf("%s is given twice in the input", p.Key))
			continue
		}
		seen[p.Key] = true
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing was applied:\n%w", errors.Join(errs...))
	}
	distribute.SortPlans(plans)
	return plans, nil
}

// refuseInvalidNames refuses the input when any object has a name or
// namespace that no member accepts. Only apply checks: diff and sync still
// show and report, with the members' own errors, such objects that an
// older kfed recorded.
func refuseInvalidNames(plans []*distribute.Plan) error {
	var errs []error
	for _, p := range plans {
		if err := distribute.CheckName(p.Key); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("nothing was applied:\n%w", errors.Join(errs...))
	}
	return nil
}

func warnPlans(o *ApplyOptions, plans []*distribute.Plan) {
	for _, p := range plans {
		if len(p.Unknown) > 0 {
			fmt.Fprintf(o.ErrOut, "Warning: %s: %s names clusters that are not members: %v\n", p.Key, "kfed.dev/clusters", p.Unknown)
		}
		if len(p.Selected()) == 0 {
			fmt.Fprintf(o.ErrOut, "Warning: %s: its placement selects no member\n", p.Key)
		}
		if len(p.NotReady) > 0 && p.Replicas != nil {
			fmt.Fprintf(o.ErrOut, "Warning: %s: the replicas of %v went to %v\n", p.Key, p.NotReady, p.Clusters())
		}
	}
}

// prune deletes the objects of the apply set that are not in the input.
func (o *ApplyOptions) prune(ctx context.Context, fs *fedSession, plans []*distribute.Plan, opts distribute.Options) ([]distribute.Result, error) {
	entries, err := fs.entries(ctx)
	if err != nil {
		return nil, err
	}
	inInput := map[inventory.Key]bool{}
	for _, p := range plans {
		inInput[p.Key] = true
	}
	var gone []*inventory.Entry
	for _, e := range entries {
		if e.Record.Spec.ApplySet == o.ApplySet && !inInput[e.Key()] {
			gone = append(gone, e)
		}
	}
	results, err := deleteEntries(ctx, fs, gone, opts, false)
	applied := make([]inventory.Key, 0, len(plans))
	for _, p := range plans {
		applied = append(applied, p.Key)
	}
	return append(results, removeCreatedNamespaces(ctx, fs, results, stillPlaced(entries, gone, applied...), opts)...), err
}

// deleteEntries removes entries from the members that hold them, then from
// the inventory; entries that some member could not be reached for stay,
// marked deleting, for sync to finish, unless force.
func deleteEntries(ctx context.Context, fs *fedSession, entries []*inventory.Entry, opts distribute.Options, force bool) ([]distribute.Result, error) {
	items := map[string][]distribute.DeleteItem{}
	for _, e := range entries {
		for _, c := range e.Record.Status.Clusters {
			if c.Action == v1alpha1.ActionDeleted {
				continue
			}
			items[c.Name] = append(items[c.Name], distribute.DeleteItem{Key: e.Key(), APIVersion: e.Template.GetAPIVersion()})
		}
	}
	results := distribute.Delete(ctx, fs.targets, items, opts)
	if opts.DryRun != distribute.DryRunNone {
		return results, nil
	}
	byKey := map[inventory.Key][]distribute.Result{}
	for _, r := range results {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	// One record a request, many at once: a thousand records one after
	// another would take longer than the deletions themselves. Once the
	// host leaves one unanswered, the rest are not tried.
	var host distribute.Silence
	skipped := 0
	saved := fanout.Map(ctx, entries, fanout.Options{Concurrency: inventoryWriters}, func(ctx context.Context, e *inventory.Entry) (struct{}, error) {
		if err := host.Err(); err != nil {
			return struct{}{}, errNotTried
		}
		var pending []distribute.Result
		var done []string
		for _, r := range byKey[e.Key()] {
			if r.Action == v1alpha1.ActionDeleted {
				done = append(done, r.Cluster)
			} else {
				pending = append(pending, r)
			}
		}
		if len(pending) == 0 || force {
			if err := host.Observe(fs.inventory.Delete(ctx, e.Record)); err != nil {
				return struct{}{}, fmt.Errorf("removing %s from the inventory: %w", e.Key(), err)
			}
			return struct{}{}, nil
		}
		now := metav1.Now()
		var recs []v1alpha1.ClusterResult
		for _, r := range pending {
			r.Action = v1alpha1.ActionPendingDeletion
			recs = append(recs, r.ClusterResult(now))
		}
		if _, err := fs.inventory.SetStatus(ctx, e.Record, true, recs, done); host.Observe(err) != nil {
			return struct{}{}, fmt.Errorf("recording the pending deletion of %s: %w", e.Key(), err)
		}
		return struct{}{}, nil
	})
	var errs []error
	for _, r := range saved {
		switch {
		case r.Err == nil:
		case errors.Is(r.Err, errNotTried):
			skipped++
		case host.Err() != nil && distribute.NoAnswer(r.Err):
			skipped++
		default:
			errs = append(errs, r.Err)
		}
	}
	if err := host.Err(); err != nil {
		errs = append(errs, fmt.Errorf("the host stopped answering (%v): %d inventory records still name objects that were deleted; once it answers, run the same delete again, which finds them gone and removes their records", err, skipped))
	}
	if force {
		for i := range results {
			if results[i].Action == v1alpha1.ActionPendingDeletion {
				results[i].Action = v1alpha1.ActionDeleted
				results[i].Message = "forgotten (--force); left in the cluster: " + results[i].Message
			}
		}
	}
	return results, errors.Join(errs...)
}

// errNotTried marks inventory writes not tried because the host had
// stopped answering.
var errNotTried = errors.New("not tried: the host stopped answering")
