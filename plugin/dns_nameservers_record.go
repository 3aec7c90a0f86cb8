package plugin

// The record of the nameservers' numbers, in the Federation's status.

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// recordNameservers numbers the nameservers of the installed clusters
// against the Federation's record, and saves the record when it changed,
// before any Corefile names them.
func (o *DNSInstallOptions) recordNameservers(ctx context.Context, installed []dnsServers) ([]nameserver, error) {
	joined, ids, err := o.joinedClusters(ctx)
	if err != nil {
		return nil, err
	}
	var reached []nsCluster
	for _, in := range installed {
		reached = append(reached, nsCluster{id: ids[in.cluster.name], name: in.cluster.name, label: in.cluster.label(), ingress: in.ingress})
	}
	var servers []nameserver
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fed, err := o.store.Federations.Get(ctx, o.federation.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var record []v1alpha1.Nameserver
		servers, record = numberNameservers(o.domain(), fed.Status.Nameservers, joined, reached)
		if slices.Equal(record, fed.Status.Nameservers) {
			return nil
		}
		fed.Status.Nameservers = record
		updated, err := o.store.Federations.UpdateStatus(ctx, fed, metav1.UpdateOptions{FieldManager: fieldManager})
		if err != nil {
			return err
		}
		if len(record) > 0 && len(updated.Status.Nameservers) == 0 {
			fmt.Fprintf(o.ErrOut, "Warning: the host's Federation CRD is older than this plugin and drops the nameservers' numbers, which are given afresh on every install: run `kubectl fed init %s` again to update it\n", o.federation.Name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording the nameservers in the status of federation %s: %w", o.federation.Name, err)
	}
	return servers, nil
}

// joinedClusters returns the name of every joined cluster, and of the host,
// by cluster ID, and the cluster ID of each cluster install knows, by name.
func (o *DNSInstallOptions) joinedClusters(ctx context.Context) (map[string]string, map[string]string, error) {
	members, err := o.store.Members(ctx, o.federation.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the members of federation %s: %w", o.federation.Name, err)
	}
	hostID, err := store.ClusterID(ctx, o.store.Kube.CoreV1().Namespaces())
	if err != nil {
		return nil, nil, fmt.Errorf("reading the host's cluster ID: %w", err)
	}
	joined, ids := map[string]string{}, map[string]string{}
	for _, m := range members {
		joined[m.Spec.ClusterID], ids[m.Name] = m.Name, m.Spec.ClusterID
	}
	host := o.clusters[0].name
	joined[hostID], ids[host] = host, hostID
	return joined, ids, nil
}
