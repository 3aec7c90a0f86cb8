package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/geo"
	"github.com/kfed-dev/kfed/pkg/store"
)

// hostFlags find the host cluster and the federation. The host is whatever
// --context (or the current context) points at, as for any kubectl command.
// Every subcommand shares one hostFlags, made by NewCmdFed.
type hostFlags struct {
	configFlags *genericclioptions.ConfigFlags
	// hostClusterContext is the older tool's name for --context.
	hostClusterContext string
	// errOut receives the warnings of credential refreshes; nil skips
	// them (see refreshCredentials).
	errOut io.Writer
	// memberContexts maps a member to the kubeconfig context that reaches
	// it with the caller's credentials, where it is not named like the
	// member (--member-context; see callerPods).
	memberContexts map[string]string
}

func newHostFlags(configFlags *genericclioptions.ConfigFlags) *hostFlags {
	return &hostFlags{configFlags: configFlags}
}

// addFlags adds the aliases that people coming from kubefed type.
func (h *hostFlags) addFlags(flags *pflag.FlagSet) {
	flags.StringVar(&h.hostClusterContext, "host-cluster-context", "",
		"Same as --context: the kubeconfig context of the host cluster, as the kubefed tool named it.")
}

// complete folds --host-cluster-context into --context.
func (h *hostFlags) complete() error {
	if h.hostClusterContext == "" {
		return nil
	}
	if cur := *h.configFlags.Context; cur != "" && cur != h.hostClusterContext {
		return fmt.Errorf("--context %q and --host-cluster-context %q disagree: give one of them", cur, h.hostClusterContext)
	}
	*h.configFlags.Context = h.hostClusterContext
	return nil
}

// store returns the host's store.
func (h *hostFlags) store() (*store.Store, error) {
	return h.storeWithRate(0, 0)
}

// storeWithRate is store with a client rate limit of its own, for commands
// that make many requests to the host; zero keeps client-go's default.
func (h *hostFlags) storeWithRate(qps float32, burst int) (*store.Store, error) {
	cfg, err := h.configFlags.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	if qps > 0 {
		cfg = rest.CopyConfig(cfg)
		cfg.QPS, cfg.Burst = qps, burst
	}
	if cfg.Timeout == 0 {
		// See openSession: no request to the host may wait for ever.
		cfg.Timeout = distribute.DefaultRequestTimeout
	}
	return store.New(cfg)
}

// members returns the host's store, the federation, and the Clusters that
// have joined it.
func (h *hostFlags) members(ctx context.Context, federation string) (*store.Store, *v1alpha1.Federation, []v1alpha1.Cluster, error) {
	// Each member costs a few reads of its credentials, all at once: at
	// client-go's default of 5 a second, 20 members waited 10 s on the
	// client's own limiter before the first member was read.
	s, err := h.storeWithRate(hostQPS, hostBurst)
	if err != nil {
		return nil, nil, nil, err
	}
	fed, err := s.Federation(ctx, federation)
	if err != nil {
		return nil, nil, nil, err
	}
	members, err := s.Members(ctx, fed.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	h.refresh(ctx, s, fed, members)
	return s, fed, members, nil
}

// rawConfig returns the merged kubeconfig, without command-line overrides.
func (h *hostFlags) rawConfig() (clientcmdapi.Config, error) {
	return h.configFlags.ToRawKubeConfigLoader().RawConfig()
}

// contextName returns the name of the host's context, for messages.
func (h *hostFlags) contextName() string {
	if c := *h.configFlags.Context; c != "" {
		return c
	}
	raw, err := h.rawConfig()
	if err != nil {
		return ""
	}
	return raw.CurrentContext
}

// federationFlag adds --federation to a command that works on one
// federation.
func addFederationFlag(cmd *cobra.Command, h *hostFlags, target *string) {
	cmd.Flags().StringVar(target, "federation", "",
		"The federation to work on. Needed only when the host holds several.")
	_ = cmd.RegisterFlagCompletionFunc("federation", h.completeFederations)
}

// Completion, as kubectl does it: quietly offer nothing when the host
// cannot be read.

func (h *hostFlags) completeContexts(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	raw, err := h.rawConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for name := range raw.Contexts {
		if strings.HasPrefix(name, toComplete) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}

func (h *hostFlags) completeFederations(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	_ = h.complete()
	s, err := h.store()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, err := s.Federations.List(cmd.Context(), metav1.ListOptions{})
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, f := range list.Items {
		if strings.HasPrefix(f.Name, toComplete) {
			out = append(out, f.Name)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeClusters offers the members of the federation --federation names,
// or of every federation of the host, leaving out those already given.
func (h *hostFlags) completeClusters(federation *string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		_ = h.complete()
		s, err := h.store()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		list, err := s.Clusters.List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		given := map[string]bool{}
		for _, a := range args {
			given[a] = true
		}
		var out []string
		for _, c := range list.Items {
			if federation != nil && *federation != "" && c.Spec.Federation != *federation {
				continue
			}
			if !given[c.Name] && strings.HasPrefix(c.Name, toComplete) {
				out = append(out, c.Name)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func completeRegions(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, r := range geo.Regions() {
		if strings.HasPrefix(r.Name, toComplete) {
			out = append(out, r.Name+"\t"+string(r.Provider)+", "+r.Place)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
