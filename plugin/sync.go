package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

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
		changes made directly in a member; kubectl fed diff shows them first.`))

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
			cmdutil.CheckErr(o.host.complete())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	addDistributeFlags(cmd, &o.Timeout, &o.Concurrency)
	return cmd
}

// Run syncs.
func (o *SyncOptions) Run(ctx context.Context) error {
	if err := checkConcurrency(o.Concurrency); err != nil {
		return err
	}
	fs, err := openSession(ctx, o.host, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
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
	distribute.SortPlans(plans)
	results, err := fs.push(ctx, plans, func(inventory.Key) string { return "" }, opts)
	errs = append(errs, err)
	if len(deleting) > 0 {
		deleted, err := deleteEntries(ctx, fs, deleting, opts, false)
		results = append(results, deleted...)
		errs = append(errs, err)
		distribute.SortResults(results)
	}
	if len(results) == 0 {
		fmt.Fprintf(o.Out, "the inventory of %s is empty: nothing to sync\n", fs.federation.Name)
	} else if err := printResults(o.Out, results); err != nil {
		return err
	}
	return errors.Join(append(errs, failures(results))...)
}
