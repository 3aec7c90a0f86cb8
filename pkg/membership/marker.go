package membership

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Membership is what a member's membership ConfigMap says: the federation
// it belongs to, its name there, and the host that holds the federation.
type Membership struct {
	Federation, Cluster string
	// HostID is the host's cluster ID; HostServer the API server join
	// reached it at.
	HostID, HostServer string
}

// ReadMembership returns the membership a cluster's marker records, or nil
// when the cluster is a member of no federation.
func ReadMembership(ctx context.Context, kube kubernetes.Interface) (*Membership, error) {
	cm, err := kube.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(ctx, MembershipConfigMap, metav1.GetOptions{})
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
