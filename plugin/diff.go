package plugin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

var (
	diffLong = templates.LongDesc(i18n.T(`
		Show, per member, how the live objects differ from what the federation would
		write.

		Without -f, the inventory is compared with the members: this shows drift,
		objects edited or deleted directly in a member. With -f, the manifests are
		compared with the members: this shows what kubectl fed apply would change.
		Nothing is changed, ever; kubectl fed sync reverts drift.

		The exit status is 0 when nothing differs, 1 when something does, and above 1
		when diff itself failed, as for kubectl diff.`))

	diffExample = templates.Examples(i18n.T(`
		# What changed in the members behind the federation's back
		kubectl fed diff

		# What applying a manifest would change
		kubectl fed diff -f app.yaml`))
)

// DiffOptions holds the flags of `kubectl fed diff`.
type DiffOptions struct {
	FilenameOptions resource.FilenameOptions
	Federation      string
	Timeout         time.Duration

	namespace string
	explicit  bool

	host *hostFlags
	genericiooptions.IOStreams
}

// errDifferent reports, through the exit status only, that diff found
// differences.
var errDifferent = errors.New("differences found")

// NewCmdDiff returns `kubectl fed diff`.
func NewCmdDiff(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiffOptions{host: host, IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "diff [-f FILENAME]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Show how the members differ from the inventory or from manifests"),
		Long:                  diffLong,
		Example:               diffExample,
		Args:                  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.host.complete())
			var err error
			o.namespace, o.explicit, err = o.host.configFlags.ToRawKubeConfigLoader().Namespace()
			cmdutil.CheckErr(err)
			err = o.Run(cmd.Context())
			if errors.Is(err, errDifferent) {
				os.Exit(1)
			}
			if err != nil {
				// kubectl diff exits above 1 when it fails.
				cmdutil.BehaviorOnFatal(func(msg string, code int) {
					fmt.Fprintln(o.ErrOut, strings.TrimRight(msg, "\n"))
					os.Exit(2)
				})
			}
			cmdutil.CheckErr(err)
		},
	}
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "the manifests to compare with the members")
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each member to answer before leaving it out. 0 means the federation's default.")
	return cmd
}

// Run prints the differences.
func (o *DiffOptions) Run(ctx context.Context) error {
	fs, err := openSession(ctx, o.host, o.Federation, o.Timeout)
	if err != nil {
		return err
	}
	entries, err := fs.entries(ctx)
	if err != nil {
		return err
	}
	recorded := map[string]map[string]bool{}
	for _, e := range entries {
		m := map[string]bool{}
		for _, c := range e.Record.Status.Clusters {
			switch c.Action {
			case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
				m[c.Name] = true
			}
		}
		recorded[e.Key().String()] = m
	}
	var plans []*distribute.Plan
	if len(o.FilenameOptions.Filenames) > 0 {
		objs, err := readObjects(o.host, &o.FilenameOptions)
		if err != nil {
			return err
		}
		if plans, err = planAll(fs, objs, o.namespace, o.explicit); err != nil {
			return err
		}
	} else {
		for _, e := range entries {
			if e.Record.Spec.Deleting {
				continue
			}
			p, err := distribute.NewPlan(fs.federation.Name, e.Template, fs.targets)
			if err != nil {
				return err
			}
			plans = append(plans, p)
		}
	}
	fs.warnNotReady(o.ErrOut)
	diffs := distribute.Diff(ctx, fs.targets, plans, fs.federation.Name, recorded)
	// Objects recorded in members their placement no longer selects would
	// be deleted there.
	selected := map[inventory.Key]map[string]bool{}
	for _, p := range plans {
		m := map[string]bool{}
		for _, c := range p.Selected() {
			m[c] = true
		}
		selected[p.Key] = m
	}
	for _, e := range entries {
		sel, planned := selected[e.Key()]
		if !planned && len(o.FilenameOptions.Filenames) > 0 {
			continue
		}
		for c := range recorded[e.Key().String()] {
			if e.Record.Spec.Deleting || !sel[c] {
				diffs = append(diffs, distribute.Difference{Cluster: c, Object: e.Key().String(), State: "extra", Message: "no longer placed here; kfed would delete it"})
			}
		}
	}
	failed := false
	for _, d := range diffs {
		switch d.State {
		case "changed":
			fmt.Fprint(o.Out, d.Diff)
		case "error":
			failed = true
			fmt.Fprintf(o.ErrOut, "error: cluster %s: %s: %s\n", d.Cluster, d.Object, d.Message)
		default:
			fmt.Fprintf(o.Out, "# cluster %s: %s: %s: %s\n", d.Cluster, d.Object, d.State, d.Message)
		}
	}
	if failed {
		return errors.New("diff failed for some objects; see the errors above")
	}
	if len(diffs) > 0 {
		return errDifferent
	}
	return nil
}
