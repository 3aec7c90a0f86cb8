package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/membership"
)

var (
	rotateLong = templates.LongDesc(i18n.T(`
		Replace the tokens the host holds for members, and revoke the old ones.

		For each identity of each member named (or of every member with --all), rotate
		asks the member for a new token with the TokenRequest API, bound to a new anchor
		Secret in the member's kfed-system, proves that it works, saves it in the host's
		credential Secret, and only then deletes the old token's anchor, which revokes
		the old token at once. A token of the older, never-expiring kind is replaced
		the same way, and its token Secret deleted.

		With --identity dns-host (or all), the token a member's coredns-fed reads the host
		with, which dns install --all-clusters gave it, is replaced too: a new token of
		the host's coredns-fed, bound to a new anchor in the host, goes into the member's
		Secret kfed-system/coredns-fed-host, the member's coredns-fed Deployment restarts
		its pods to read it, and the old anchor is deleted.

		Rotate works with the manager identity the host holds; no context of the member
		is needed. Interrupted anywhere, it leaves a working credential in the host, and
		running it again finishes the job. A member whose manager token no longer works
		has to be joined again, with --cluster-context.

		Without rotate, kubectl fed commands refresh a token once less than a third of
		its lifetime is left, and leave the old one to expire.`))

	rotateExample = templates.Examples(i18n.T(`
		# Replace both tokens of member eur
		kubectl fed rotate eur

		# Only the DNS reader's, of every member
		kubectl fed rotate --all --identity dns-reader

		# The token jpn's coredns-fed reads the host with
		kubectl fed rotate jpn --identity dns-host

		# New tokens that last a week
		kubectl fed rotate eur jpn --token-lifetime 168h`))
)

// RotateOptions holds the flags of `kubectl fed rotate`.
type RotateOptions struct {
	Names         []string
	All           bool
	Federation    string
	Identity      string
	TokenLifetime time.Duration
	Timeout       time.Duration

	identities []string

	host *hostFlags
	genericiooptions.IOStreams
}

// NewRotateOptions returns RotateOptions writing to streams.
func NewRotateOptions(host *hostFlags, streams genericiooptions.IOStreams) *RotateOptions {
	return &RotateOptions{host: host, IOStreams: streams, Identity: "all"}
}

// NewCmdRotate returns `kubectl fed rotate`.
func NewCmdRotate(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewRotateOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "rotate (CLUSTER... | --all) [--identity manager|dns-reader|dns-host|all]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Replace members' tokens and revoke the old ones"),
		Long:                  rotateLong,
		Example:               rotateExample,
		ValidArgsFunction:     host.completeClusters(&o.Federation),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate(cmd))
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	f := cmd.Flags()
	addFederationFlag(cmd, host, &o.Federation)
	f.BoolVar(&o.All, "all", false, "Rotate the tokens of every member.")
	f.StringVar(&o.Identity, "identity", o.Identity, "Whose token to rotate: manager, dns-reader, dns-host (the token a member's coredns-fed reads the host with, if dns install gave it one) or all.")
	f.DurationVar(&o.TokenLifetime, "token-lifetime", 0, "How long the new manager and DNS-reader tokens last (at least 10m). 0 keeps each token's current lifetime, 30 days in place of a never-expiring one. A dns-host token lasts 90 days.")
	f.DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each request to a member. 0 means the federation's default, 10s unless init set another.")
	_ = cmd.RegisterFlagCompletionFunc("identity", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"manager", "dns-reader", "dns-host", "all"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// Complete takes the members' names.
func (o *RotateOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Names = args
	switch o.Identity {
	case "all":
		o.identities = append(membership.Identities(), identityDNSHost)
	case v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader, identityDNSHost:
		o.identities = []string{o.Identity}
	default:
		return cmdutil.UsageErrorf(cmd, "--identity must be manager, dns-reader, dns-host or all, not %q", o.Identity)
	}
	return nil
}

// Validate checks that members are named one way or the other.
func (o *RotateOptions) Validate(cmd *cobra.Command) error {
	switch {
	case o.All && len(o.Names) > 0:
		return cmdutil.UsageErrorf(cmd, "name members or give --all, not both")
	case !o.All && len(o.Names) == 0:
		return cmdutil.UsageErrorf(cmd, "name the members whose tokens to rotate, or give --all")
	case o.TokenLifetime != 0 && o.TokenLifetime < membership.MinTokenLifetime:
		return fmt.Errorf("--token-lifetime %s is too short: the API server issues tokens for %s at least", o.TokenLifetime, membership.MinTokenLifetime)
	case o.Timeout < 0:
		return fmt.Errorf("--timeout must not be negative")
	}
	return nil
}

// Run rotates the tokens, members in parallel and each member's identities
// in turn: the manager first, whose new token then renews the DNS
// reader's.
func (o *RotateOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := o.host.store()
	if err != nil {
		return err
	}
	fed, err := s.Federation(ctx, o.Federation)
	if err != nil {
		return err
	}
	members, err := s.Members(ctx, fed.Name)
	if err != nil {
		return err
	}
	if !o.All {
		var missing []string
		members = slices.DeleteFunc(members, func(c v1alpha1.Cluster) bool { return !slices.Contains(o.Names, c.Name) })
		for _, n := range o.Names {
			if !slices.ContainsFunc(members, func(c v1alpha1.Cluster) bool { return c.Name == n }) {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not members of federation %q: %s", fed.Name, strings.Join(missing, ", "))
		}
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = fed.ClusterTimeoutOrDefault()
	}
	results := fanout.Map(ctx, members, fanout.Options{Concurrency: 8},
		func(ctx context.Context, c v1alpha1.Cluster) ([]string, error) {
			var lines []string
			for _, id := range o.identities {
				if id == identityDNSHost {
					line, skipped, err := rotateDNSHost(ctx, s, fed.Name, &c, timeout)
					switch {
					case err != nil:
						return lines, fmt.Errorf("rotating the %s token of cluster %s: %w", id, c.Name, err)
					case skipped && o.Identity == identityDNSHost:
						lines = append(lines, fmt.Sprintf("cluster %s: no coredns-fed reads the host from it; no %s token to rotate", c.Name, id))
					case !skipped:
						lines = append(lines, line)
					}
					continue
				}
				r := &membership.Renew{Host: s, Cluster: &c, Identity: id, Lifetime: o.TokenLifetime, Revoke: true, Timeout: timeout}
				res, err := r.Run(ctx)
				if err != nil {
					return lines, fmt.Errorf("rotating the %s token of cluster %s: %w", id, c.Name, err)
				}
				lines = append(lines, rotateLine(c.Name, id, res))
			}
			return lines, nil
		})
	var errs []error
	for _, r := range results {
		for _, l := range r.Value {
			fmt.Fprintln(o.Out, l)
		}
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return errors.Join(errs...)
}

// rotateLine says what one rotation did.
func rotateLine(cluster, identity string, res *membership.RenewResult) string {
	if res.Raced {
		return fmt.Sprintf("cluster %s: %s token replaced by another command meanwhile; run rotate again to revoke the one it replaced", cluster, identity)
	}
	old := "a never-expiring token"
	if !res.Old.Legacy() {
		old = "a token expiring " + res.Old.Expires.Format(time.RFC3339)
	}
	line := fmt.Sprintf("cluster %s: %s token rotated, expires %s (in %s), replacing %s",
		cluster, identity, res.New.Expires.Format(time.RFC3339), duration.HumanDuration(time.Until(res.New.Expires)), old)
	if len(res.Revoked) > 0 {
		line += "; revoked " + strings.Join(prefixed("secret/", res.Revoked), ", ")
	}
	if len(res.Left) > 0 {
		line += fmt.Sprintf("; could not delete %s in the member's %s, whose tokens still work: delete them by hand",
			strings.Join(prefixed("secret/", res.Left), ", "), v1alpha1.Namespace)
	}
	return line
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}
