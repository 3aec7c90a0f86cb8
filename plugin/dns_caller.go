package plugin

// What is asked of coredns-fed's pods themselves (dns explain, the last
// sync in status) goes through each cluster's API server with the caller's
// own credentials, never with kfed's: the manager identity is given no
// proxy subresource (pkg/membership). The host is reached as the command
// reaches it; a member with the kubeconfig context of its name, which join
// takes by default, once that context is shown to reach the member.

import (
	"context"
	"fmt"

	"k8s.io/client-go/kubernetes"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// callerClusters returns the host and the federation's other members as
// clusters that coredns-fed may run in, for callerPods: no member is
// connected to here.
func (h *hostFlags) callerClusters(ctx context.Context, s *store.Store, federation string) ([]*dnsCluster, error) {
	members, err := s.Members(ctx, federation)
	if err != nil {
		return nil, err
	}
	targets := map[string]*dnsCluster{}
	for _, m := range members {
		targets[m.Name] = &dnsCluster{name: m.Name}
	}
	return dnsClustersOf(ctx, h, s, members, targets)
}

// callerPods returns the pods of kfed-system in c, reached with the
// caller's credentials: the host's own, or the kubeconfig context named
// like the member, checked to reach the cluster join recorded (by its
// cluster ID), so that a context of the same name for another cluster is
// never asked in its place.
func (h *hostFlags) callerPods(ctx context.Context, c *dnsCluster) (corev1client.PodInterface, error) {
	cfg := c.config
	if !c.host {
		raw, err := h.rawConfig()
		if err != nil {
			return nil, err
		}
		if _, ok := raw.Contexts[c.name]; !ok {
			return nil, fmt.Errorf("your kubeconfig has no context named %q to reach member %s with your own credentials: add one (kubectl config set-context %s ...), or name its servers with --server", c.name, c.name, c.name)
		}
		if cfg, err = clientcmd.NewNonInteractiveClientConfig(raw, c.name, &clientcmd.ConfigOverrides{}, nil).ClientConfig(); err != nil {
			return nil, fmt.Errorf("the kubeconfig context %q: %w", c.name, err)
		}
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	if !c.host && c.clusterID != "" {
		id, err := store.ClusterID(ctx, client.CoreV1().Namespaces())
		if err != nil {
			return nil, fmt.Errorf("reading the cluster ID through the kubeconfig context %q: %w", c.name, err)
		}
		if id != c.clusterID {
			return nil, fmt.Errorf("the kubeconfig context %q reaches the cluster %s, not member %s (cluster %s): name the member's servers with --server", c.name, id, c.name, c.clusterID)
		}
	}
	return client.CoreV1().Pods(v1alpha1.Namespace), nil
}
