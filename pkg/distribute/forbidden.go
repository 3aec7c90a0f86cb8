package distribute

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/member"
)

// forbidden turns a member's refusal of the manager identity into an error
// that names the cluster, the kind and how to grant more; other errors
// pass as they are.
func (w *writer) forbidden(gvk schema.GroupVersionKind, namespace string, err error) error {
	if !apierrors.IsForbidden(err) {
		return err
	}
	kind := gvk.Kind
	if gvk.Group != "" {
		kind += "." + gvk.Group
	}
	return &member.ForbiddenError{Cluster: &w.t.Cluster, Kind: kind, Namespace: namespace, Err: err}
}
