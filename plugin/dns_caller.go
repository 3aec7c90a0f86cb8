package plugin

// What is asked of coredns-fed's pods themselves (dns explain, the last
// sync in status) goes through each cluster's API server with the caller's
// own credentials, never with kfed's: the manager identity is given no
// proxy subresource (pkg/membership). The host is reached as the command
// reaches it; a member with the kubeconfig context of its name, which join
// takes by default, or the one --member-context gives, once that context is
// shown to reach the member.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// addMemberContextFlag adds --member-context to a command that asks
// members' coredns-fed pods with the caller's credentials. It completes
// the members of federation, then, after the "=", the kubeconfig's
// contexts.
func (h *hostFlags) addMemberContextFlag(cmd *cobra.Command, federation *string) {
	cmd.Flags().StringToStringVar(&h.memberContexts, "member-context", nil,
		"MEMBER=CONTEXT: the kubeconfig context that reaches a member with your own credentials, to ask its coredns-fed pods, when it is not named like the member. Repeat for each, or separate with commas.")
	members := h.completeClusters(federation)
	_ = cmd.RegisterFlagCompletionFunc("member-context", func(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if member, ctx, ok := strings.Cut(toComplete, "="); ok {
			names, directive := h.completeContexts(cmd, nil, ctx)
			for i := range names {
				names[i] = member + "=" + names[i]
			}
			return names, directive
		}
		names, directive := members(cmd, nil, toComplete)
		for i := range names {
			names[i] += "="
		}
		return names, directive | cobra.ShellCompDirectiveNoSpace
	})
}

// callerClusters returns the host and the federation's other members as
// clusters that coredns-fed may run in, for callerPods: no member is
// connected to here. A --member-context for no member is an error.
func (h *hostFlags) callerClusters(ctx context.Context, s *store.Store, federation string) ([]*dnsCluster, error) {
	members, err := s.Members(ctx, federation)
	if err != nil {
		return nil, err
	}
	targets := map[string]*dnsCluster{}
	var names []string
	for _, m := range members {
		targets[m.Name] = &dnsCluster{name: m.Name}
		names = append(names, m.Name)
	}
	if err := h.checkMemberContexts(names); err != nil {
		return nil, err
	}
	return dnsClustersOf(ctx, h, s, members, targets)
}

// checkMemberContexts fails when --member-context names a cluster that is
// not one of the members named.
func (h *hostFlags) checkMemberContexts(names []string) error {
	for name := range h.memberContexts {
		if !slices.Contains(names, name) {
			slices.Sort(names)
			return fmt.Errorf("--member-context names %q, which is not a member of this federation: its members are %s", name, strings.Join(names, ", "))
		}
	}
	return nil
}

// memberContext is the kubeconfig context that reaches member with the
// caller's credentials: the one --member-context gives, or the member's
// name.
func (h *hostFlags) memberContext(member string) string {
	if c, ok := h.memberContexts[member]; ok {
		return c
	}
	return member
}

// callerPods returns the pods of kfed-system in c, reached with the
// caller's credentials: the host's own, or the member's kubeconfig context
// (see memberContext), checked to reach the cluster join recorded (by its
// cluster ID), so that a context of the same name for another cluster is
// never asked in its place.
func (h *hostFlags) callerPods(ctx context.Context, c *dnsCluster) (corev1client.PodInterface, error) {
	cfg, name := c.config, h.memberContext(c.name)
	if !c.host {
		raw, err := h.rawConfig()
		if err != nil {
			return nil, err
		}
		if _, ok := raw.Contexts[name]; !ok {
			return nil, fmt.Errorf("your kubeconfig has no context named %q to reach member %s with your own credentials: give the one that does with --member-context %s=CONTEXT, or name its servers with --server", name, c.name, c.name)
		}
		if cfg, err = clientcmd.NewNonInteractiveClientConfig(raw, name, &clientcmd.ConfigOverrides{}, nil).ClientConfig(); err != nil {
			return nil, fmt.Errorf("the kubeconfig context %q: %w", name, err)
		}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if !c.host && c.clusterID != "" {
		id, err := store.ClusterID(ctx, client.CoreV1().Namespaces())
		if err != nil {
			return nil, fmt.Errorf("reading the cluster ID through the kubeconfig context %q: %w", name, err)
		}
		if id != c.clusterID {
			return nil, fmt.Errorf("the kubeconfig context %q reaches the cluster %s, not member %s (cluster %s): give the member's own context with --member-context %s=CONTEXT, or name its servers with --server", name, id, c.name, c.clusterID, c.name)
		}
	}
	return client.CoreV1().Pods(v1alpha1.Namespace), nil
}
