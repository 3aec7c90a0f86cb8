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

		As with kubectl diff, a Secret's values are masked: each shows as ***, and
		one that would change as *** (before) and *** (after), so that the keys that
		change show and their values never do.

		Each would-be object comes from a server-side dry run in its member, so an
		object the member refuses (an invalid name, say) shows as refused, with the
		member's error, and not as something apply or sync would create. Members are
		compared in parallel, and objects in parallel within each.

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
	Concurrency     int
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
			// kubectl diff exits 1 when something differs and above 1
			// when it fails.
			cmdutil.BehaviorOnFatal(func(msg string, code int) {
				fmt.Fprintln(o.ErrOut, strings.TrimRight(msg, "\n"))
				os.Exit(2)
			})
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			err := o.Run(cmd.Context())
			if errors.Is(err, errDifferent) {
				os.Exit(1)
			}
			cmdutil.CheckErr(err)
		},
	}
	cmdutil.AddFilenameOptionFlags(cmd, &o.FilenameOptions, "the manifests to compare with the members")
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each member to answer before leaving it out. 0 means the federation's default.")
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", 8, "How many members are compared at once.")
	return cmd
}

// Complete reads the host's flags and the namespace.
func (o *DiffOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	var err error
	o.namespace, o.explicit, err = o.host.configFlags.ToRawKubeConfigLoader().Namespace()
	return err
}

// Validate checks the flags.
func (o *DiffOptions) Validate() error {
	return checkConcurrency(o.Concurrency)
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
	recorded := recordedResults(entries)
	byKey := map[inventory.Key]*inventory.Entry{}
	for _, e := range entries {
		byKey[e.Key()] = e
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
	} else if plans, err = fs.planInventory(entries); err != nil {
		return err
	}
	fs.warnNotReady(o.ErrOut)
	diffs := distribute.Diff(ctx, fs.targets, plans, distribute.DiffOptions{
		Federation:  fs.federation.Name,
		Concurrency: o.Concurrency,
		Recorded:    recorded,
		Progress:    progress(o.ErrOut, "comparing"),
	})
	diffs = append(diffs, extras(entries, plans, recorded, len(o.FilenameOptions.Filenames) > 0)...)
	failed := false
	for _, d := range diffs {
		switch d.State {
		case distribute.StateChanged:
			fmt.Fprint(o.Out, d.Diff)
		case distribute.StateError:
			failed = true
			fmt.Fprintf(o.ErrOut, "error: cluster %s: %s: %s\n", d.Cluster, d.Object, d.Message)
		case distribute.StateRefused:
			fmt.Fprintf(o.Out, "# cluster %s: %s: %s: %s; %s\n", d.Cluster, d.Object, d.State, oneLineMessage(d.Message), refusedHint(d, byKey[d.Key]))
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

// recordedResults returns each entry's last result in each member.
func recordedResults(entries []*inventory.Entry) map[inventory.Key]map[string]v1alpha1.ClusterResult {
	recorded := map[inventory.Key]map[string]v1alpha1.ClusterResult{}
	for _, e := range entries {
		recorded[e.Key()] = resultsByCluster(e.Record)
	}
	return recorded
}

// planInventory plans again, for the session's members, the inventory's
// objects that are not being deleted.
func (fs *fedSession) planInventory(entries []*inventory.Entry) ([]*distribute.Plan, error) {
	var plans []*distribute.Plan
	for _, e := range entries {
		if e.Record.Spec.Deleting {
			continue
		}
		p, err := distribute.NewPlan(fs.federation.Name, e.Template, fs.targets)
		if err != nil {
			return nil, err
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// extras returns the objects recorded in members that their placement no
// longer selects, or whose record is being deleted: kfed would delete them
// there. With manifests, only the objects they name count.
func extras(entries []*inventory.Entry, plans []*distribute.Plan, recorded map[inventory.Key]map[string]v1alpha1.ClusterResult, fromManifests bool) []distribute.Difference {
	selected := map[inventory.Key]map[string]bool{}
	for _, p := range plans {
		m := map[string]bool{}
		for _, c := range p.Selected() {
			m[c] = true
		}
		selected[p.Key] = m
	}
	var out []distribute.Difference
	for _, e := range entries {
		sel, planned := selected[e.Key()]
		if !planned && fromManifests {
			continue
		}
		for _, c := range sortedKeys(recorded[e.Key()]) {
			if !placedIn(recorded[e.Key()], c) {
				continue
			}
			if e.Record.Spec.Deleting || !sel[c] {
				out = append(out, distribute.Difference{Cluster: c, Key: e.Key(), Object: e.Key().String(), State: distribute.StateExtra,
					Exists: true, Message: "no longer placed here; kfed would delete it"})
			}
		}
	}
	return out
}
