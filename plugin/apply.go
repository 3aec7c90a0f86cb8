package plugin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/distribute"
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
