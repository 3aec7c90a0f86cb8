package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/validation"
	"github.com/kfed-dev/kfed/pkg/membership"
)

var (
	joinLong = templates.LongDesc(i18n.T(`
		Join a cluster to a federation as the member NAME.

		In the member, reached through --cluster-context, join creates the namespace
		kfed-system with two ServiceAccounts: a manager, which applies what the
		federation distributes, and a DNS reader, bound to a ClusterRole that may only
		list and watch Services and EndpointSlices. Their tokens are requested with the TokenRequest API, each bound to
		an anchor Secret in kfed-system (deleting it revokes the token at once) and
		expiring after --token-lifetime; kubectl fed commands refresh them once a third
		of that is left, and kubectl fed rotate replaces them at once.

		The manager is bound, by default, to kfed-manager, a ClusterRole join writes:
		it may write every namespaced kind the member serves (at join time), in every
		namespace, and namespaces and CRDs; nothing else cluster-wide, no
		impersonation, no RBAC beyond its own rights. --manager-namespaces limits it
		to the namespaces named (and kfed-system). --manager-cluster-role binds it to a
		ClusterRole of your own instead, cluster-admin included. Running join again
		with another choice replaces the old grant; without one, it keeps the grant
		the member has. The output says which grant was given.

		In the host, join saves a kubeconfig for each identity in a Secret, the
		manager's in kfed-system and the DNS reader's in kfed-dns, where coredns-fed
		reads it, and a Cluster object with the member's region, zone, coordinates and
		labels. The
		region and zone come from the labels most of the member's nodes carry, the
		coordinates from a built-in table of AWS, Google Cloud and Azure regions; flags
		override both. The member's context must reach it over https with TLS
		verification: the tokens would otherwise travel in clear, or to whoever
		answers.

		Each new token is proven with a real call before anything is saved. If any step
		fails, everything join did is undone, on both sides.

		Running join again for the same cluster and name changes nothing, or repairs what
		is missing, and replaces tokens of the older, never-expiring kind. --rotate
		replaces the tokens; the old ones stop working. A cluster
		that belongs to another federation is refused unless --force.`))

	joinExample = templates.Examples(i18n.T(`
		# Join the clusters of contexts usa, eur and jpn; the host (context usa) is a member too
		kubectl fed join usa --context usa --cluster-context usa
		kubectl fed join eur --context usa --cluster-context eur
		kubectl fed join jpn --context usa --cluster-context jpn

		# The same, with the flags of the older kubefed tool
		kubectl fed join eur --host-cluster-context=usa --cluster-context=eur

		# Give the topology and labels for placement yourself
		kubectl fed join edge1 --cluster-context edge1 --region eu-central-1 --zone eu-central-1b --label tier=edge

		# A member outside the known cloud regions, with its coordinates
		kubectl fed join lab --cluster-context lab --region home --zone rack1 --latitude 52.52 --longitude 13.405

		# Let the manager write only the namespaces shop and web in this member
		kubectl fed join edge1 --cluster-context edge1 --manager-namespaces shop,web

		# Bind the manager to cluster-admin, for kinds kfed's role does not cover
		kubectl fed join eur --cluster-context eur --manager-cluster-role cluster-admin

		# Replace the member's tokens; the old ones stop working
		kubectl fed join eur --cluster-context eur --rotate`))
)

// JoinOptions holds the flags of `kubectl fed join`.
type JoinOptions struct {
	Name               string
	ClusterContext     string
	Federation         string
	Region, Zone       string
	Latitude           string
	Longitude          string
	Labels             []string
	ManagerClusterRole string
	ManagerNamespaces  []string
	Server             string
	Force              bool
	Rotate             bool
	TokenLifetime      time.Duration
	Timeout            time.Duration

	labels   map[string]string
	location *v1alpha1.Location
	// lifetimeSet is whether --token-lifetime was given: a re-run without
	// it keeps current tokens, whatever their lifetime.
	lifetimeSet bool

	host *hostFlags
	genericiooptions.IOStreams
}

// NewJoinOptions returns JoinOptions writing to streams.
func NewJoinOptions(host *hostFlags, streams genericiooptions.IOStreams) *JoinOptions {
	return &JoinOptions{host: host, IOStreams: streams, Timeout: 2 * time.Minute}
}

// NewCmdJoin returns `kubectl fed join`.
func NewCmdJoin(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewJoinOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "join NAME --cluster-context CONTEXT",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Join a cluster to a federation"),
		Long:                  joinLong,
		Example:               joinExample,
		// Members are usually named like their contexts.
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return host.completeContexts(cmd, args, toComplete)
		},
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.ClusterContext, "cluster-context", "", "The kubeconfig context of the cluster to join. Defaults to NAME, if such a context exists.")
	addFederationFlag(cmd, host, &o.Federation)
	f.StringVar(&o.Region, "region", "", "The member's region. Defaults to the "+v1alpha1.LabelTopologyRegion+" label most of its nodes carry.")
	f.StringVar(&o.Zone, "zone", "", "The member's zone. Defaults to the "+v1alpha1.LabelTopologyZone+" label most of its nodes in that region carry.")
	f.StringVar(&o.Latitude, "latitude", "", "The member's latitude in decimal degrees. Defaults to its region's, for known cloud regions.")
	f.StringVar(&o.Longitude, "longitude", "", "The member's longitude in decimal degrees. Defaults to its region's, for known cloud regions.")
	f.StringArrayVar(&o.Labels, "label", nil, "A label key=value for the member's Cluster, used by placement. May be repeated.")
	f.StringVar(&o.ManagerClusterRole, "manager-cluster-role", "", "The ClusterRole to bind the manager identity to: "+membership.ManagerClusterRole+", which join writes, or one of your own. Defaults to what the member has, else the federation's default, else "+membership.ManagerClusterRole+".")
	f.StringSliceVar(&o.ManagerNamespaces, "manager-namespaces", nil, "Let the manager identity write only these namespaces (and "+v1alpha1.Namespace+"), which must exist in the member. Comma-separated.")
	f.StringVar(&o.Server, "cluster-server", "", "The member's API server URL as the host and coredns-fed reach it, if not the one in --cluster-context.")
	f.BoolVar(&o.Force, "force", false, "Take the cluster over even if it belongs to another federation, or to this one under another name.")
	f.BoolVar(&o.Rotate, "rotate", false, "Issue new tokens for a member already joined, and make the old ones stop working.")
	f.DurationVar(&o.TokenLifetime, "token-lifetime", membership.DefaultTokenLifetime, "How long the identities' tokens last (at least 10m; the member's API server may shorten it). Commands refresh a token once a third of this is left.")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long the join may take before it gives up and undoes what it did.")
	_ = cmd.RegisterFlagCompletionFunc("cluster-context", host.completeContexts)
	_ = cmd.RegisterFlagCompletionFunc("region", completeRegions)
	return cmd
}

// Complete takes the name and fills in the member's context.
func (o *JoinOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	o.lifetimeSet = cmd.Flags().Changed("token-lifetime")
	if len(args) != 1 {
		return cmdutil.UsageErrorf(cmd, "join takes exactly one argument, the member's name")
	}
	o.Name = args[0]
	if o.ClusterContext == "" {
		raw, err := o.host.rawConfig()
		if err != nil {
			return err
		}
		if _, ok := raw.Contexts[o.Name]; !ok {
			return cmdutil.UsageErrorf(cmd, "--cluster-context is required: no kubeconfig context is named %q", o.Name)
		}
		o.ClusterContext = o.Name
	}
	return nil
}

// Validate checks the name, topology, coordinates and labels.
func (o *JoinOptions) Validate() error {
	if msgs := validation.ClusterName(o.Name); len(msgs) > 0 {
		return fmt.Errorf("invalid cluster name %q: %s", o.Name, strings.Join(msgs, "; "))
	}
	for flag, v := range map[string]string{"region": o.Region, "zone": o.Zone} {
		if v == "" {
			continue
		}
		if msgs := validation.Topology(v); len(msgs) > 0 {
			return fmt.Errorf("invalid --%s %q: %s (it is part of DNS names)", flag, v, strings.Join(msgs, "; "))
		}
	}
	switch {
	case o.Latitude == "" && o.Longitude == "":
	case o.Latitude == "" || o.Longitude == "":
		return fmt.Errorf("--latitude and --longitude go together: give both or neither")
	default:
		loc := &v1alpha1.Location{Latitude: o.Latitude, Longitude: o.Longitude}
		lat, lon, err := loc.Coordinates()
		if err != nil {
			return fmt.Errorf("invalid coordinates: %w", err)
		}
		o.location = v1alpha1.NewLocation(lat, lon)
	}
	labels, err := parseLabels(o.Labels)
	if err != nil {
		return err
	}
	o.labels = labels
	if o.Server != "" && !strings.HasPrefix(o.Server, "https://") && !strings.HasPrefix(o.Server, "http://") {
		return fmt.Errorf("invalid --cluster-server %q: it must be a URL, such as https://203.0.113.10:6443", o.Server)
	}
	if len(o.ManagerNamespaces) > 0 && o.ManagerClusterRole != "" {
		return fmt.Errorf("--manager-namespaces and --manager-cluster-role cannot go together: give one of them")
	}
	for _, ns := range o.ManagerNamespaces {
		if msgs := validation.ClusterName(ns); len(msgs) > 0 {
			return fmt.Errorf("invalid --manager-namespaces entry %q: %s", ns, strings.Join(msgs, "; "))
		}
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.TokenLifetime < membership.MinTokenLifetime {
		return fmt.Errorf("--token-lifetime %s is too short: the API server issues tokens for %s at least", o.TokenLifetime, membership.MinTokenLifetime)
	}
	return nil
}

// parseLabels reads key=value pairs. kfed's own prefix is reserved: kfed
// sets those labels itself.
func parseLabels(pairs []string) (map[string]string, error) {
	labels := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("invalid --label %q: it must be key=value", p)
		}
		if strings.HasPrefix(k, v1alpha1.GroupName+"/") {
			return nil, fmt.Errorf("invalid --label %q: the prefix %s/ is reserved for kfed", p, v1alpha1.GroupName)
		}
		labels[k] = v
	}
	if errs := metav1validation.ValidateLabels(labels, field.NewPath("label")); len(errs) > 0 {
		return nil, fmt.Errorf("invalid --label: %s", errs.ToAggregate())
	}
	return labels, nil
}

// Run joins the member.
func (o *JoinOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	s, err := o.host.store()
	if err != nil {
		return err
	}
	fed, err := s.Federation(ctx, o.Federation)
	if err != nil {
		return err
	}
	raw, err := o.host.rawConfig()
	if err != nil {
		return err
	}
	access, err := membership.AccessFromKubeconfig(raw, o.ClusterContext, o.Server)
	if err != nil {
		return err
	}
	j := &membership.Join{
		Host:               s,
		Federation:         fed,
		Name:               o.Name,
		Member:             access,
		Region:             o.Region,
		Zone:               o.Zone,
		Location:           o.location,
		Labels:             o.labels,
		ManagerClusterRole: o.ManagerClusterRole,
		ManagerNamespaces:  o.ManagerNamespaces,
		Force:              o.Force,
		Rotate:             o.Rotate,
		TokenLifetime:      o.tokenLifetime(),
		Warnf: func(format string, args ...any) {
			fmt.Fprintf(o.ErrOut, "Warning: "+format+"\n", args...)
		},
	}
	res, err := j.Run(ctx)
	if err != nil {
		return fmt.Errorf("joining %q to federation %q: %w", o.Name, fed.Name, err)
	}
	o.printResult(res)
	if res.Action != membership.Unchanged && res.Action != membership.Rotated {
		// What the manager may do, whenever join may have changed it.
		fmt.Fprintf(o.Out, "manager identity: %s\n", res.Manager.Describe())
	}
	return nil
}

func (o *JoinOptions) printResult(res *membership.Result) {
	c := res.Cluster
	name := "cluster.kfed.dev/" + c.Name
	switch res.Action {
	case membership.Unchanged:
		fmt.Fprintf(o.Out, "%s unchanged\n", name)
		return
	case membership.Repaired:
		changes := append([]string(nil), res.Changes...)
		sort.Strings(changes)
		fmt.Fprintf(o.Out, "%s repaired: %s\n", name, strings.Join(changes, ", "))
		return
	case membership.Rotated:
		fmt.Fprintf(o.Out, "%s tokens rotated\n", name)
		return
	}
	var facts []string
	facts = append(facts, "federation "+c.Spec.Federation)
	if c.Spec.Region != "" {
		facts = append(facts, "region "+c.Spec.Region)
	}
	if c.Spec.Zone != "" {
		facts = append(facts, "zone "+c.Spec.Zone)
	}
	if c.Status.KubernetesVersion != "" {
		facts = append(facts, "Kubernetes "+c.Status.KubernetesVersion)
	}
	if c.Status.Nodes != nil {
		facts = append(facts, fmt.Sprintf("%d nodes", *c.Status.Nodes))
	}
	verb := "joined"
	if res.Action == membership.TakenOver {
		verb = "joined (taken over)"
	}
	fmt.Fprintf(o.Out, "%s %s: %s\n", name, verb, strings.Join(facts, ", "))
}

// tokenLifetime is the lifetime join asks for: --token-lifetime if given,
// or 0, which keeps a current token and gives new ones the default.
func (o *JoinOptions) tokenLifetime() time.Duration {
	if !o.lifetimeSet {
		return 0
	}
	return o.TokenLifetime
}
