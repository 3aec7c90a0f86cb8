//go:build e2e

package security

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// What an unjoin takes from a member whose manager may write one
// namespace. The test was privilege_test.go's last, and still runs after
// its others.

// TestPrivScopedUnjoin unjoins a member whose manager may write one
// namespace, with the manager's own credential: what kfed distributed
// there goes, and the garbage collector takes the manager's roles and
// RoleBindings with its binding.
func TestPrivScopedUnjoin(t *testing.T) {
	const (
		m  = "jpn"
		ns = "privunjoin"
	)
	ctx := t.Context()
	member := testLab.Cluster(m).Client()
	privScoped(t, m, ns)

	manifest := filepath.Join(t.TempDir(), "unjoin.yaml")
	doc := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: priv-unjoin
  namespace: %s
  annotations: {kfed.dev/clusters: %s}
data: {v: "1"}
`, ns, m)
	if err := os.WriteFile(manifest, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "apply", "-f", manifest, "--context", hostCtx)
	t.Cleanup(func() {
		_, _ = kubectl.Run(context.Background(), "fed", "delete", "-f", manifest, "--context", hostCtx)
	})
	if _, err := member.CoreV1().ConfigMaps(ns).Get(ctx, "priv-unjoin", metav1.GetOptions{}); err != nil {
		t.Fatalf("the scoped manager did not write its namespace: %v", err)
	}

	res := kubectl.Succeed(t, "fed", "unjoin", m, "--context", hostCtx, "--delete-resources")
	for _, what := range []string{"role/" + membership.DNSReaderTokenRole, "rolebinding/" + membership.DNSReaderTokenRole} {
		if !strings.Contains(res.Stdout, what) {
			t.Errorf("unjoin does not report deleting the DNS reader's %s:\n%s", what, res.Stdout)
		}
	}
	if _, err := member.CoreV1().ConfigMaps(ns).Get(ctx, "priv-unjoin", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after unjoin --delete-resources, configmap %s/priv-unjoin: %v, want NotFound", ns, err)
	}
	if _, err := member.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("unjoin took the operator's namespace %s: %v", ns, err)
	}
	// The membership's namespace goes too, which a join must wait for.
	framework.Eventually(t, 3*time.Minute, time.Second, "the manager's grants are gone from "+m, func(ctx context.Context) error {
		if _, err := member.CoreV1().Namespaces().Get(ctx, v1alpha1.Namespace, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s: %v", v1alpha1.Namespace, err)
		}
		rbac := member.RbacV1()
		for _, name := range []string{membership.ManagerClusterRole, membership.ManagerNamespacedClusterRole} {
			if _, err := rbac.ClusterRoles().Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("clusterrole %s: %v", name, err)
			}
		}
		if _, err := rbac.RoleBindings(ns).Get(ctx, membership.ManagerRoleBinding, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("rolebinding %s/%s: %v", ns, membership.ManagerRoleBinding, err)
		}
		if _, err := rbac.Roles(v1alpha1.Namespace).Get(ctx, membership.DNSReaderTokenRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("role %s/%s: %v", v1alpha1.Namespace, membership.DNSReaderTokenRole, err)
		}
		return nil
	})
}
