package framework

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
)

// RolledOut returns nil once the Deployment's controller has seen its last
// change and want replicas run it, every one of them ready and available,
// with no other pod left; otherwise an error that says how far it is.
func RolledOut(d *appsv1.Deployment, want int32) error {
	s := d.Status
	if s.ObservedGeneration < d.Generation || s.UpdatedReplicas != want || s.ReadyReplicas != want || s.AvailableReplicas != want || s.Replicas != want {
		return fmt.Errorf("the Deployment %s/%s has %d updated, %d ready and %d available of %d pods (%d in all)",
			d.Namespace, d.Name, s.UpdatedReplicas, s.ReadyReplicas, s.AvailableReplicas, want, s.Replicas)
	}
	return nil
}
