package plugin

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
)

var (
	unjoinLong = templates.LongDesc(i18n.T(`
		Remove a member from its federation.

		unjoin deletes kfed's identities, roles and tokens in the member, then the
		member's credentials and Cluster object in the host. It reaches the member with
		the manager identity the host holds, or with --cluster-context if given.

		What kfed distributed to the member stays there, unless --delete-resources is
		given: then every object labelled as distributed by kfed for this federation is
		deleted too. A namespace kfed made goes with them only while it holds nothing but
		kfed's objects and what Kubernetes puts in every namespace; one that holds anything
		else, such as a ConfigMap made by hand, stays, and the output says what it holds.

		If the member cannot be reached, unjoin stops and changes nothing. With --force
		it removes the member from the host anyway and lists what was left in the
		member.`))

	unjoinExample = templates.Examples(i18n.T(`
		# Remove eur from the federation; what was distributed to it stays
		kubectl fed unjoin eur --context usa

		# Remove it and everything kfed distributed to it
		kubectl fed unjoin eur --context usa --delete-resources

		# The member is gone for good: clean the host, and list what stays in the member
		kubectl fed unjoin eur --context usa --force`))
)

// UnjoinOptions holds the flags of `kubectl fed unjoin`.
type UnjoinOptions struct {
	Name            string
	Federation      string
	ClusterContext  string
	DeleteResources bool
	Force           bool
	Timeout         time.Duration

	host *hostFlags
	genericiooptions.IOStreams
}

// NewUnjoinOptions returns UnjoinOptions writing to streams.
func NewUnjoinOptions(host *hostFlags, streams genericiooptions.IOStreams) *UnjoinOptions {
	return &UnjoinOptions{host: host, IOStreams: streams, Timeout: 30 * time.Second}
}

// NewCmdUnjoin returns `kubectl fed unjoin`.
func NewCmdUnjoin(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewUnjoinOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "unjoin NAME",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Remove a member from its federation"),
		Long:                  unjoinLong,
		Example:               unjoinExample,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return host.completeClusters(&o.Federation)(cmd, args, toComplete)
		},
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	f := cmd.Flags()
	addFederationFlag(cmd, host, &o.Federation)
	f.StringVar(&o.ClusterContext, "cluster-context", "", "Reach the member with this kubeconfig context instead of the manager identity the host holds.")
	f.BoolVar(&o.DeleteResources, "delete-resources", false, "Also delete every object kfed distributed to the member for this federation.")
	f.BoolVar(&o.Force, "force", false, "Remove the member from the host even if it cannot be reached or cleaned, and list what was left in it.")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for each request to the member.")
	_ = cmd.RegisterFlagCompletionFunc("cluster-context", host.completeContexts)
	return cmd
}

// Complete takes the name.
func (o *UnjoinOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	if len(args) != 1 {
		return cmdutil.UsageErrorf(cmd, "unjoin takes exactly one argument, the member's name")
	}
	o.Name = args[0]
	return nil
}

// Validate checks the flags.
func (o *UnjoinOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	return nil
}

// Run unjoins the member.
func (o *UnjoinOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// Thousands of inventory records may name the member: not at
	// client-go's default 5 requests a second.
	s, err := o.host.storeWithRate(hostQPS, hostBurst)
	if err != nil {
		return err
	}
	fed, err := s.Federation(ctx, o.Federation)
	if err != nil {
		return err
	}
	fs := &fedSession{store: s, federation: fed}
	release, err := fs.lock(ctx, "kubectl fed unjoin", o.ErrOut)
	if err != nil {
		return err
	}
	defer release()
	cluster, err := s.Clusters.Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || err == nil && cluster.Spec.Federation != fed.Name {
		return fmt.Errorf("cluster %q is not a member of federation %q", o.Name, fed.Name)
	}
	if err != nil {
		return err
	}
	u := &membership.Unjoin{
		Host:            s,
		Cluster:         cluster,
		DeleteResources: o.DeleteResources,
		Force:           o.Force,
		Timeout:         o.Timeout,
		Progress:        progress(o.ErrOut, "taking "+o.Name+" out of the inventory records"),
		DeleteProgress:  progress(o.ErrOut, "deleting what kfed distributed to "+o.Name),
	}
	if o.ClusterContext != "" {
		raw, err := o.host.rawConfig()
		if err != nil {
			return err
		}
		if u.Member, err = membership.AccessFromKubeconfig(raw, o.ClusterContext, ""); err != nil {
			return err
		}
	}
	res, err := u.Run(ctx)
	if err != nil {
		return fmt.Errorf("unjoining %q from federation %q: %w", o.Name, fed.Name, err)
	}
	o.printResult(fed, cluster, res)
	return nil
}

func (o *UnjoinOptions) printResult(fed *v1alpha1.Federation, c *v1alpha1.Cluster, res *membership.UnjoinResult) {
	if res.Resumed {
		fmt.Fprintf(o.Out, "an earlier unjoin cleaned %q already; finishing in the host\n", c.Name)
	}
	if len(res.Distributed) > 0 {
		var parts []string
		total := 0
		for r, n := range res.Distributed {
			parts = append(parts, fmt.Sprintf("%d %s", n, r))
			total += n
		}
		sort.Strings(parts)
		fmt.Fprintf(o.Out, "deleted %d distributed objects in %q: %s\n", total, c.Name, strings.Join(parts, ", "))
	}
	for _, ns := range res.KeptNamespaces {
		fmt.Fprintf(o.Out, "namespace/%s left in %s: %s\n", ns.Name, c.Name, ns.Reason)
	}
	if len(res.Removed) > 0 {
		fmt.Fprintf(o.Out, "deleted in %q: %s\n", c.Name, strings.Join(res.Removed, ", "))
	}
	if res.Reason != nil {
		fmt.Fprintf(o.ErrOut, "Warning: cluster %q was not cleaned: %v\n", c.Name, res.Reason)
	}
	if len(res.Left) > 0 {
		fmt.Fprintf(o.Out, "left in %q:\n", c.Name)
		for _, l := range res.Left {
			fmt.Fprintf(o.Out, "  %s\n", l)
		}
		if res.Reason != nil {
			fmt.Fprintf(o.Out, "to delete kfed's identities once it is back, with the member's own context:\n  kubectl delete -n %s configmap,secret,serviceaccount,clusterrolebinding,clusterrole,namespace -l %s=%s,%s=%s\n",
				v1alpha1.Namespace, v1alpha1.LabelFederation, fed.Name, v1alpha1.LabelComponent, v1alpha1.ComponentMembership)
		}
	}
	if res.Forgotten > 0 {
		left := "; what kfed distributed there stays, no longer managed"
		if o.DeleteResources {
			left = ""
		}
		fmt.Fprintf(o.Out, "took %q out of %d inventory records%s\n", c.Name, res.Forgotten, left)
	}
	fmt.Fprintf(o.Out, "cluster.kfed.dev/%s unjoined from federation %s\n", c.Name, fed.Name)
}
