package membership

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Membership is what a member's membership ConfigMap says: the federation
// it belongs to, its name there, and the host that holds the federation.
type Membership struct {
	Federation, Cluster string
	// HostID is the host's cluster ID; HostServer the API server join
	// reached it at.
	HostID, HostServer string
}

// ConfigMapGetter reads a ConfigMap: a ConfigMaps client of client-go's
// clientset, or of package kube.
type ConfigMapGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error)
}

// ReadMembership returns the membership a cluster's marker records, or nil
// when the cluster is a member of no federation. configMaps reads the
// cluster's kfed-system namespace.
func ReadMembership(ctx context.Context, configMaps ConfigMapGetter) (*Membership, error) {
	cm, err := configMaps.Get(ctx, MembershipConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &Membership{
		Federation: cm.Data[keyFederation],
		Cluster:    cm.Data[keyCluster],
		HostID:     cm.Data[keyHostID],
		HostServer: cm.Data[keyHostServer],
	}, nil
}
