package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

var (
	rebalanceLong = templates.LongDesc(i18n.T(`
		Split the replicas of federated workloads again over the members that are
		Ready now.

		After a member fails, its replicas are gone with it; rebalance moves its share
		to the others. After it recovers, rebalance gives it its share back. Only
		replica counts change: every workload is written again from the inventory, as
		it was last applied, with its new share.`))

	rebalanceExample = templates.Examples(i18n.T(`
		# After eur failed: move its replicas to the other members
		kubectl fed rebalance

		# One workload only
		kubectl fed rebalance deployment/web -n shop`))
)

// RebalanceOptions holds the flags of `kubectl fed rebalance`.
type RebalanceOptions struct {
	Args        []string
	Federation  string
	Concurrency int
	Timeout     time.Duration
	namespace   string

	host *hostFlags
	genericiooptions.IOStreams
}

// NewCmdRebalance returns `kubectl fed rebalance`.
func NewCmdRebalance(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RebalanceOptions{host: host, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "rebalance [TYPE/NAME...]",
		Short:   i18n.T("Split workload replicas again over the members that are Ready now"),
		Long:    rebalanceLong,
		Example: rebalanceExample,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.host.complete())
			o.Args = args
			var err error
			o.namespace, _, err = o.host.configFlags.ToRawKubeConfigLoader().Namespace()
			cmdutil.CheckErr(err)
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	addDistributeFlags(cmd, &o.Timeout, &o.Concurrency)
	return cmd
}

// Run rebalances.
func (o *RebalanceOptions) Run(ctx context.Context) error {
	if err := checkConcurrency(o.Concurrency); err != nil {
		return err
	}
	fs, err := openSession(ctx, o.host, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
	// Held from before the records are read until they are written.
	release, err := fs.lock(ctx, "kubectl fed rebalance", o.ErrOut)
	if err != nil {
		return err
	}
	defer release()
	entries, err := fs.entries(ctx)
	if err != nil {
		return err
	}
	want := map[inventory.Key]bool{}
	if len(o.Args) > 0 {
		keys, err := resolveNames(o.Args, fs.targets, entries, o.namespace)
		if err != nil {
			return err
		}
		for _, k := range keys {
			want[k] = true
		}
	}
	fs.warnNotReady(o.ErrOut)
	var plans []*distribute.Plan
	for _, e := range entries {
		if e.Record.Spec.Deleting || (len(want) > 0 && !want[e.Key()]) {
			continue
		}
		if _, ok, _ := unstructured.NestedInt64(e.Template.Object, "spec", "replicas"); !ok {
			continue
		}
		p, err := distribute.NewPlan(fs.federation.Name, e.Template, fs.targets)
		if err != nil {
			return err
		}
		plans = append(plans, p)
	}
	if len(plans) == 0 {
		fmt.Fprintln(o.Out, "no federated workload with spec.replicas to rebalance")
		return nil
	}
	opts := distribute.Options{Federation: fs.federation.Name, Concurrency: o.Concurrency, Progress: progress(o.ErrOut, "rebalancing")}
	results, recordErr := fs.push(ctx, plans, func(inventory.Key) string { return "" }, opts)
	// Members that are down keep what they have, as warned above; the
	// others took their share, and give it back at the next rebalance.
	ready := map[string]bool{}
	for _, t := range fs.targets {
		ready[t.Name()] = t.Ready
	}
	var shown []distribute.Result
	for _, r := range results {
		if ready[r.Cluster] {
			shown = append(shown, r)
		}
	}
	if err := printResults(o.Out, shown); err != nil {
		return err
	}
	return errors.Join(recordErr, failures(shown))
}
