package plugin

// The clusters that run coredns-fed: the host, and with --all-clusters
// every member that is not the host.

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// dnsCluster is a cluster that runs coredns-fed: the host, or a member
// reached with its manager credential.
type dnsCluster struct {
	name string
	host bool
	// err says why a member cannot be reached.
	err     error
	dynamic dynamic.Interface
	mapper  meta.RESTMapper
	// hostKubeconfig is what a member's coredns-fed reads the host with.
	hostKubeconfig string
	// clusterID is the member's, as join recorded it; config reaches the
	// host with the caller's credentials (see callerPods).
	clusterID string
	config    *rest.Config
}

// label names the cluster in output.
func (c *dnsCluster) label() string {
	if c.host {
		return c.name + " (host)"
	}
	return c.name
}

// connectDNSClusters opens the host's store and finds the clusters that run
// coredns-fed: the host, and with all every member that is not the host,
// by name. A member that cannot be reached comes with the reason.
//
// The host is often a member too. It is recognised by its cluster ID (the
// UID of its kube-system namespace, which join records), not by its API
// server's URL: one cluster has many URLs (localhost or 127.0.0.1, a
// public and a private endpoint, a proxy), and the user's context may use
// another than the one join recorded.
func connectDNSClusters(ctx context.Context, h *hostFlags, federation string, all bool) (*store.Store, *v1alpha1.Federation, []*dnsCluster, error) {
	if all {
		fs, err := openSession(ctx, h, federation, 0)
		if err != nil {
			return nil, nil, nil, err
		}
		clusters, err := fs.dnsClusters(ctx, h)
		return fs.store, fs.federation, clusters, err
	}
	s, fed, members, err := h.members(ctx, federation)
	if err != nil {
		return nil, nil, nil, err
	}
	clusters, err := dnsClustersOf(ctx, h, s, members, nil)
	return s, fed, clusters, err
}

// dnsClusters returns the host and every member of a session that is not
// the host, as clusters that may run coredns-fed, reached with the
// session's connections.
func (fs *fedSession) dnsClusters(ctx context.Context, h *hostFlags) ([]*dnsCluster, error) {
	var members []v1alpha1.Cluster
	targets := map[string]*dnsCluster{}
	for _, t := range fs.targets {
		members = append(members, t.Cluster)
		c := &dnsCluster{name: t.Name(), dynamic: t.Dynamic, mapper: t.Mapper}
		if !t.Ready {
			c.err = fmt.Errorf("not ready: %s", t.Reason)
		}
		targets[t.Name()] = c
	}
	return dnsClustersOf(ctx, h, fs.store, members, targets)
}

// dnsClustersOf returns the host, named as the member it is if it is
// one, and the members of targets that are not the host.
func dnsClustersOf(ctx context.Context, h *hostFlags, s *store.Store, members []v1alpha1.Cluster, targets map[string]*dnsCluster) ([]*dnsCluster, error) {
	hostID, err := store.ClusterID(ctx, s.Kube.CoreV1().Namespaces())
	if err != nil {
		return nil, fmt.Errorf("reading the host's cluster ID (the UID of its kube-system namespace), to tell it apart from the members: %w", err)
	}
	hostDynamic, err := dynamic.NewForConfig(s.Config)
	if err != nil {
		return nil, err
	}
	hostMapper, err := h.configFlags.ToRESTMapper()
	if err != nil {
		return nil, err
	}
	host := &dnsCluster{name: h.contextName(), host: true, dynamic: hostDynamic, mapper: hostMapper, clusterID: hostID, config: s.Config}
	if host.name == "" {
		host.name = "host"
	}
	clusters := []*dnsCluster{host}
	for _, m := range members {
		if m.Spec.ClusterID == hostID {
			host.name = m.Name
			continue
		}
		if c := targets[m.Name]; c != nil {
			c.clusterID = m.Spec.ClusterID
			clusters = append(clusters, c)
		}
	}
	return clusters, nil
}
