package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

var (
	syncLong = templates.LongDesc(i18n.T(`
		Re-apply the inventory everywhere it belongs.

		Every federated object is planned again over the members that are Ready now
		and written with server-side apply: a newly joined member receives everything
		whose placement selects it, a member that is back receives what it missed,
		deletions left pending by an unreachable member are finished, and drift in
		the fields kfed manages is reverted. This is the only command that reverts
		changes made directly in a member; kubectl fed diff shows them first.

		An object that no member ever accepted, and that every member it is placed in
		refuses again in a dry run (an invalid name, say), is not written: sync reports
		the member's error and how to fix the manifest or delete the object, and exits
		1 until one is done.`))

	syncExample = templates.Examples(i18n.T(`
		# Bring every member in line with the inventory
		kubectl fed sync --context usa

		# See first what it would change
		kubectl fed diff --context usa`))
)

// SyncOptions holds the flags of `kubectl fed sync`.
type SyncOptions struct {
	Federation  string
	Concurrency int
	Timeout     time.Duration

	host *hostFlags
	genericiooptions.IOStreams
}

// NewCmdSync returns `kubectl fed sync`.
func NewCmdSync(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &SyncOptions{host: host, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "sync",
		Short:   i18n.T("Re-apply the inventory to every member, finishing pending deletions"),
		Long:    syncLong,
		Example: syncExample,
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	addDistributeFlags(cmd, &o.Timeout, &o.Concurrency)
	return cmd
}

// Complete reads the host's flags.
func (o *SyncOptions) Complete(cmd *cobra.Command, args []string) error {
	return o.host.complete()
}

// Validate checks the flags.
func (o *SyncOptions) Validate() error {
	return checkConcurrency(o.Concurrency)
}

// Run syncs.
func (o *SyncOptions) Run(ctx context.Context) error {
	fs, err := openSession(ctx, o.host, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
	// Held from before the records are read until they are written, so
	// that sync never writes back what a concurrent apply replaced.
	release, err := fs.lock(ctx, "kubectl fed sync", o.ErrOut)
	if err != nil {
		return err
	}
	defer release()
	entries, err := fs.entries(ctx)
	if err != nil {
		return err
	}
	fs.warnNotReady(o.ErrOut)
	opts := distribute.Options{
		Federation: fs.federation.Name,
		// The inventory is the truth here: fields kfed manages that someone
		// changed in a member are taken back.
		ForceConflicts: true,
		Concurrency:    o.Concurrency,
		Progress:       progress(o.ErrOut, "syncing"),
	}
	var deleting []*inventory.Entry
	var plans []*distribute.Plan
	var errs []error
	for _, e := range entries {
		if e.Record.Spec.Deleting {
			deleting = append(deleting, e)
			continue
		}
		p, err := distribute.NewPlan(fs.federation.Name, e.Template, fs.targets)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plans = append(plans, p)
	}
	plans, refused := o.refused(ctx, fs, entries, plans)
	distribute.SortPlans(plans)
	results, err := fs.push(ctx, plans, func(inventory.Key) string { return "" }, opts)
	errs = append(errs, err)
	if len(deleting) > 0 {
		deleted, err := deleteEntries(ctx, fs, deleting, opts, false)
		results = append(results, deleted...)
		results = append(results, removeCreatedNamespaces(ctx, fs, deleted, stillPlaced(entries, deleting), opts)...)
		errs = append(errs, err)
		distribute.SortResults(results)
	}
	errs = append(errs, failures(results))
	if len(refused) > 0 {
		results = append(results, refused...)
		distribute.SortResults(results)
		errs = append(errs, refusedError(refused))
	}
	if len(results) == 0 {
		fmt.Fprintf(o.Out, "the inventory of %s is empty: nothing to sync\n", fs.federation.Name)
	} else if err := printResults(o.Out, results); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// refused takes out of plans the objects that no member ever accepted and
// that every Ready member they are placed in refuses again, in a server-side
// dry run: writing them would fail the same way on every sync. It returns
// the plans left and a failed result, with the member's error, for each
// object taken out and each member.
func (o *SyncOptions) refused(ctx context.Context, fs *fedSession, entries []*inventory.Entry, plans []*distribute.Plan) ([]*distribute.Plan, []distribute.Result) {
	suspect := map[inventory.Key]bool{}
	recorded := map[inventory.Key]map[string]v1alpha1.ClusterResult{}
	for _, e := range entries {
		if neverPlaced(e.Record) {
			suspect[e.Key()] = true
			recorded[e.Key()] = resultsByCluster(e.Record)
		}
	}
	var check []*distribute.Plan
	for _, p := range plans {
		if suspect[p.Key] && len(p.Objects) > 0 {
			check = append(check, p)
		}
	}
	if len(check) == 0 {
		return plans, nil
	}
	diffs := distribute.Diff(ctx, fs.targets, check, distribute.DiffOptions{
		Federation: fs.federation.Name, Concurrency: o.Concurrency, Recorded: recorded,
	})
	refusals := map[inventory.Key]map[string]string{}
	for _, d := range diffs {
		if d.State == distribute.StateRefused && d.Lasting && !d.Exists {
			if refusals[d.Key] == nil {
				refusals[d.Key] = map[string]string{}
			}
			refusals[d.Key][d.Cluster] = d.Message
		}
	}
	reasons := map[string]string{}
	for _, t := range fs.targets {
		reasons[t.Name()] = t.Reason
	}
	var kept []*distribute.Plan
	var results []distribute.Result
	for _, p := range plans {
		by := refusals[p.Key]
		if len(by) == 0 || len(by) < len(p.Objects) {
			kept = append(kept, p)
			continue
		}
		for cluster, msg := range by {
			results = append(results, distribute.Result{Key: p.Key, Cluster: cluster, Action: v1alpha1.ActionFailed, Message: "refused: " + msg})
		}
		for _, cluster := range p.NotReady {
			results = append(results, distribute.Result{Key: p.Key, Cluster: cluster, Action: v1alpha1.ActionFailed, Message: "cluster not ready: " + reasons[cluster]})
		}
	}
	return kept, results
}

// refusedError tells what to do about the objects members refuse: syncing
// again will not help.
func refusedError(results []distribute.Result) error {
	seen := map[inventory.Key]bool{}
	var keys []inventory.Key
	for _, r := range results {
		if !seen[r.Key] {
			seen[r.Key] = true
			keys = append(keys, r.Key)
		}
	}
	what := "1 object that no member ever accepted is refused again by every member it is placed in (see MESSAGE above), and syncing again will not change that: fix its manifest and apply it, or take it out of the federation:"
	if len(keys) > 1 {
		what = fmt.Sprintf("%d objects that no member ever accepted are refused again by every member they are placed in (see MESSAGE above), and syncing again will not change that: fix their manifests and apply them, or take them out of the federation:", len(keys))
	}
	return fmt.Errorf("%s\n  %s", what, strings.Join(deleteCommands(keys), "\n  "))
}
