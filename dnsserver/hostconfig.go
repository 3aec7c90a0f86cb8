package dnsserver

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/store"
)

// hostConfig returns the client configuration of the host: the kubeconfig
// and context given, or the in-cluster configuration.
//
// The kubeconfig is read as kfed reads a credential Secret, by
// store.RESTConfigOf: in a member it is the Secret dns install mounts, which
// anyone who may write Secrets there could have changed, so a kubeconfig
// that would run a command, read another file, or send the token in clear
// or unverified is refused, and nothing is run.
func hostConfig(o WatchOptions) (*rest.Config, error) {
	if o.Kubeconfig == "" && o.Context == "" {
		cfg, err := rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			return nil, errors.New("not running in a cluster: set kubeconfig to reach the host cluster")
		}
		if err != nil {
			return nil, fmt.Errorf("the host cluster's configuration: %w", err)
		}
		cfg.UserAgent = "coredns-fed"
		return cfg, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	raw, err := rules.Load()
	if err != nil {
		// The loader's errors may quote the file; name it instead.
		return nil, fmt.Errorf("the host cluster's kubeconfig %s cannot be read or parsed", kubeconfigName(o.Kubeconfig))
	}
	cfg, err := store.RESTConfigOf(raw, o.Context)
	if err != nil {
		return nil, fmt.Errorf("the host cluster's kubeconfig %s: %w", kubeconfigName(o.Kubeconfig), err)
	}
	cfg.UserAgent = "coredns-fed"
	return cfg, nil
}

// kubeconfigName names the kubeconfig hostConfig reads, for errors.
func kubeconfigName(path string) string {
	if path == "" {
		return "found as kubectl finds it"
	}
	return path
}
