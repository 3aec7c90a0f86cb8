//go:build e2e

package security

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
)

// What each identity kfed creates may do, asked of each member's RBAC with
// the real `kubectl auth can-i`, as the lab's admin impersonating it.

const (
	privManager = "system:serviceaccount:" + v1alpha1.Namespace + ":" + membership.ManagerServiceAccount
	privReader  = "system:serviceaccount:" + v1alpha1.Namespace + ":" + membership.DNSReaderServiceAccount
	// privHostDNS is coredns-fed's ServiceAccount in the host.
	privHostDNS = "system:serviceaccount:" + v1alpha1.Namespace + ":coredns-fed"
)

// privEverybody are what any authenticated user may do, which --list shows
// for every identity: the self-reviews.
var privEverybody = []string{
	"selfsubjectreviews.authentication.k8s.io",
	"selfsubjectaccessreviews.authorization.k8s.io",
	"selfsubjectrulesreviews.authorization.k8s.io",
}

// TestPrivDNSReaderListsAndWatchesOnly asks each member what the DNS reader
// may do: list and watch Services and EndpointSlices, and, in kfed-system,
// request tokens of its own ServiceAccount, with which coredns-fed
// refreshes its token; nothing else.
func TestPrivDNSReaderListsAndWatchesOnly(t *testing.T) {
	for _, m := range members {
		t.Run(m, func(t *testing.T) {
			for _, ns := range []string{"default", v1alpha1.Namespace} {
				got := privList(t, m, privReader, ns)
				for _, e := range privEverybody {
					delete(got, e)
				}
				want := map[string]string{"services": "[list watch]", "endpointslices.discovery.k8s.io": "[list watch]"}
				if ns == v1alpha1.Namespace {
					want["serviceaccounts/token"] = "[" + membership.DNSReaderServiceAccount + "] [create]"
				}
				if !privSame(got, want) {
					t.Errorf("in namespace %s the DNS reader may %v, want %v", ns, got, want)
				}
			}
			privExpect(t, m, privReader, map[string]bool{
				"list services --all-namespaces":                                      true,
				"watch endpointslices.discovery.k8s.io --all-namespaces":              true,
				"get services -n default":                                             false,
				"list secrets -n " + v1alpha1.Namespace:                               false,
				"get secrets -n default":                                              false,
				"list nodes":                                                          false,
				"list namespaces":                                                     false,
				"list pods --all-namespaces":                                          false,
				"create services -n default":                                          false,
				"delete endpointslices.discovery.k8s.io -n default":                   false,
				"impersonate serviceaccounts -n " + v1alpha1.Namespace:                false,
				"create serviceaccounts --subresource=token -n " + v1alpha1.Namespace: false,
				"create serviceaccounts/" + membership.DNSReaderServiceAccount + " --subresource=token -n " + v1alpha1.Namespace: true,
				"create serviceaccounts/" + membership.ManagerServiceAccount + " --subresource=token -n " + v1alpha1.Namespace:   false,
				"create serviceaccounts/" + membership.DNSReaderServiceAccount + " --subresource=token -n default":               false,
				"get serviceaccounts/" + membership.DNSReaderServiceAccount + " -n " + v1alpha1.Namespace:                        false,
			})
		})
	}
}

// TestPrivDefaultManager checks the manager of the default grant: it writes
// namespaced kinds anywhere, namespaces and CRDs, and may not impersonate,
// read nodes, escalate or bind roles beyond its own, or approve
// certificates.
func TestPrivDefaultManager(t *testing.T) {
	for _, m := range members {
		t.Run(m, func(t *testing.T) {
			crb, err := testLab.Cluster(m).Client().RbacV1().ClusterRoleBindings().Get(t.Context(), membership.ManagerClusterRoleBinding, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if crb.RoleRef.Name != membership.ManagerClusterRole {
				t.Fatalf("the manager is bound to %s, not %s", crb.RoleRef.Name, membership.ManagerClusterRole)
			}
			privExpect(t, m, privManager, map[string]bool{
				"create deployments.apps -n default":                                           true,
				"patch configmaps -n kube-public":                                              true,
				"delete services -n default":                                                   true,
				"create namespaces":                                                            true,
				"create customresourcedefinitions.apiextensions.k8s.io":                        true,
				"create rolebindings.rbac.authorization.k8s.io -n default":                     true,
				"impersonate serviceaccounts -n default":                                       false,
				"impersonate users":                                                            false,
				"impersonate groups":                                                           false,
				"get nodes":                                                                    false,
				"list nodes":                                                                   false,
				"escalate clusterroles.rbac.authorization.k8s.io":                              false,
				"bind clusterroles.rbac.authorization.k8s.io":                                  false,
				"escalate roles.rbac.authorization.k8s.io -n default":                          false,
				"bind roles.rbac.authorization.k8s.io -n default":                              false,
				"create clusterroles.rbac.authorization.k8s.io":                                false,
				"create clusterrolebindings.rbac.authorization.k8s.io":                         false,
				"update certificatesigningrequests.certificates.k8s.io --subresource=approval": false,
				"approve signers.certificates.k8s.io":                                          false,
				"create pods --subresource=exec -n default":                                    false,
				"create serviceaccounts --subresource=token -n kube-system":                    false,
				"create validatingwebhookconfigurations.admissionregistration.k8s.io":          false,
				"create persistentvolumes":                                                     false,
			})
		})
	}
}

// TestPrivScopedManager joins eur with --manager-namespaces: an apply to
// another namespace fails there with an error that names the cluster, the
// kind and the fix, succeeds elsewhere, and converges once eur is joined
// with the default grant again, which takes the RoleBindings away.
func TestPrivScopedManager(t *testing.T) {
	const (
		m       = "eur"
		allowed = "privshop"
		other   = "privother"
	)
	ctx := t.Context()
	member := testLab.Cluster(m).Client()
	res := privScoped(t, m, allowed)
	if !strings.Contains(res.Stdout, "manager identity: ClusterRole "+membership.ManagerNamespacedClusterRole+" through RoleBindings in namespaces "+allowed) {
		t.Errorf("join does not say what the manager was granted:\n%s", res.Stdout)
	}
	privExpect(t, m, privManager, map[string]bool{
		"create configmaps -n " + allowed:                       true,
		"create configmaps -n " + other:                         false,
		"create configmaps -n default":                          false,
		"create namespaces":                                     false,
		"create customresourcedefinitions.apiextensions.k8s.io": false,
		"get namespaces":                                        true,
		"list nodes":                                            false,
	})

	manifest := filepath.Join(t.TempDir(), "priv.yaml")
	doc := fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: priv-in, namespace: %s}
data: {where: allowed}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: priv-out, namespace: %s}
data: {where: other}
`, allowed, other)
	if err := os.WriteFile(manifest, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = kubectl.Run(ctx, "fed", "delete", "-f", manifest, "--context", hostCtx)
		for _, c := range members {
			_, _ = kubectl.Run(ctx, "delete", "namespace", other, "--context", c, "--wait=false", "--ignore-not-found")
		}
	})
	res = kubectl.Fail(t, "fed", "apply", "-f", manifest, "--context", hostCtx)
	out := res.Stdout + res.Stderr
	for _, want := range []string{"cluster " + m + " does not let kfed's manager write", "--manager-cluster-role cluster-admin", "kubectl fed join " + m} {
		if !strings.Contains(out, want) {
			t.Errorf("the refused apply does not say %q:\n%s", want, out)
		}
	}
	if _, err := member.CoreV1().ConfigMaps(allowed).Get(ctx, "priv-in", metav1.GetOptions{}); err != nil {
		t.Errorf("the allowed namespace did not get its ConfigMap: %v", err)
	}
	if _, err := member.CoreV1().ConfigMaps(other).Get(ctx, "priv-out", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("configmap %s/priv-out in %s: %v, want NotFound", other, m, err)
	}
	for _, c := range members {
		if c == m {
			continue
		}
		if _, err := testLab.Cluster(c).Client().CoreV1().ConfigMaps(other).Get(ctx, "priv-out", metav1.GetOptions{}); err != nil {
			t.Errorf("%s did not get configmap %s/priv-out: %v", c, other, err)
		}
	}

	// The default grant again: the RoleBindings and the namespaced role go,
	// and the same apply converges.
	res = privRejoin(t, m, "--manager-cluster-role", membership.ManagerClusterRole)
	if !strings.Contains(res.Stdout, "manager identity: ClusterRole "+membership.ManagerClusterRole+":") {
		t.Errorf("join does not say what the manager was granted:\n%s", res.Stdout)
	}
	for _, ns := range []string{allowed, v1alpha1.Namespace} {
		if _, err := member.RbacV1().RoleBindings(ns).Get(ctx, membership.ManagerRoleBinding, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("rolebinding %s/%s after the default grant: %v, want NotFound", ns, membership.ManagerRoleBinding, err)
		}
	}
	if _, err := member.RbacV1().ClusterRoles().Get(ctx, membership.ManagerNamespacedClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("clusterrole %s after the default grant: %v, want NotFound", membership.ManagerNamespacedClusterRole, err)
	}
	kubectl.Succeed(t, "fed", "apply", "-f", manifest, "--context", hostCtx)
	if _, err := member.CoreV1().ConfigMaps(other).Get(ctx, "priv-out", metav1.GetOptions{}); err != nil {
		t.Errorf("a second apply did not converge in %s: %v", m, err)
	}
	if res, err := kubectl.Run(ctx, "fed", "diff", "-f", manifest, "--context", hostCtx); err != nil || res.ExitCode != 0 {
		t.Errorf("diff after the converged apply: %v\n%s", err, res)
	}
}

// TestPrivOperatorRole binds jpn's manager to cluster-admin, with a warning,
// which removes kfed's own role there, and back.
func TestPrivOperatorRole(t *testing.T) {
	const m = "jpn"
	ctx := t.Context()
	t.Cleanup(func() { privRestore(t, m) })
	res := privRejoin(t, m, "--manager-cluster-role", "cluster-admin")
	if !strings.Contains(res.Stderr, "Warning: the manager identity gets cluster-admin") {
		t.Errorf("no warning for cluster-admin:\n%s", res.Stderr)
	}
	if !strings.Contains(res.Stdout, "manager identity: ClusterRole cluster-admin") {
		t.Errorf("join does not say what the manager was granted:\n%s", res.Stdout)
	}
	rbac := testLab.Cluster(m).Client().RbacV1()
	crb, err := rbac.ClusterRoleBindings().Get(ctx, membership.ManagerClusterRoleBinding, metav1.GetOptions{})
	if err != nil || crb.RoleRef.Name != "cluster-admin" {
		t.Fatalf("the manager's binding: %v, %v", crb, err)
	}
	if _, err := rbac.ClusterRoles().Get(ctx, membership.ManagerClusterRole, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("clusterrole %s with cluster-admin granted: %v, want NotFound", membership.ManagerClusterRole, err)
	}
	if !privCan(t, m, privManager, "list", "nodes") {
		t.Errorf("cluster-admin may not list nodes?")
	}

	res = privRejoin(t, m, "--manager-cluster-role", membership.ManagerClusterRole)
	if strings.Contains(res.Stderr, "cluster-admin") {
		t.Errorf("a warning about cluster-admin for the default grant:\n%s", res.Stderr)
	}
	if privCan(t, m, privManager, "list", "nodes") {
		t.Errorf("the manager still lists nodes after the default grant")
	}
}

// TestPrivHostCoreDNSFed asks the host what coredns-fed's ServiceAccount
// may do, with the deploy base's RBAC applied: list and watch the
// federation's objects and the DNS readers' Secrets, update those Secrets
// (with refreshed tokens), and nothing else.
func TestPrivHostCoreDNSFed(t *testing.T) {
	kubectl.Succeed(t, "apply", "--server-side", "--field-manager", "kubectl-fed", "-f", filepath.Join("..", "..", "..", "deploy", "coredns-fed", "rbac.yaml"), "--context", hostCtx)
	privExpect(t, hostCtx, privHostDNS, map[string]bool{
		"list federations.kfed.dev -n " + v1alpha1.Namespace: true,
		"watch clusters.kfed.dev -n " + v1alpha1.Namespace:   true,
		"list secrets -n " + v1alpha1.DNSNamespace:           true,
		"watch secrets -n " + v1alpha1.DNSNamespace:          true,
		"get secrets -n " + v1alpha1.Namespace:               false,
		"list secrets -n " + v1alpha1.Namespace:              false,
		"list secrets --all-namespaces":                      false,
		"get secrets -n " + v1alpha1.DNSNamespace:            false,
		"create secrets -n " + v1alpha1.DNSNamespace:         false,
		"update secrets -n " + v1alpha1.DNSNamespace:         true,
		"update secrets -n " + v1alpha1.Namespace:            false,
		"delete secrets -n " + v1alpha1.DNSNamespace:         false,
		"patch secrets -n " + v1alpha1.DNSNamespace:          false,
		"update clusters.kfed.dev -n " + v1alpha1.Namespace:  false,
		"list configmaps -n " + v1alpha1.Namespace:           false,
		"list nodes":                     false,
		"list services --all-namespaces": false,
	})
	got := privList(t, hostCtx, privHostDNS, v1alpha1.Namespace)
	for _, e := range privEverybody {
		delete(got, e)
	}
	want := map[string]string{"federations.kfed.dev": "[list watch]", "clusters.kfed.dev": "[list watch]"}
	if !privSame(got, want) {
		t.Errorf("in %s coredns-fed may %v, want %v", v1alpha1.Namespace, got, want)
	}
	got = privList(t, hostCtx, privHostDNS, v1alpha1.DNSNamespace)
	for _, e := range privEverybody {
		delete(got, e)
	}
	want = map[string]string{"secrets": "[list watch update]"}
	if !privSame(got, want) {
		t.Errorf("in %s coredns-fed may %v, want %v", v1alpha1.DNSNamespace, got, want)
	}
}
