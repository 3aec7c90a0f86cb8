package member

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

func TestForbiddenError(t *testing.T) {
	cause := apierrors.NewForbidden(schema.GroupResource{Group: "example.com", Resource: "widgets"}, "gizmo", errors.New("no"))
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "eur"}, Spec: v1alpha1.ClusterSpec{ManagerClusterRole: "kfed-manager"}}
	err := error(&ForbiddenError{Cluster: c, Kind: "Widget.example.com", Namespace: "crd", Err: cause})
	msg := err.Error()
	for _, want := range []string{"cluster eur", "Widget.example.com in namespace crd", "ClusterRole kfed-manager", "kubectl fed join eur", "--manager-cluster-role cluster-admin"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("the member's Forbidden is lost")
	}
	c.Spec.ManagerNamespaces = []string{"shop", "web"}
	if msg := err.Error(); !strings.Contains(msg, "namespaces shop, web only") {
		t.Errorf("a scoped grant reads %q", msg)
	}
}
