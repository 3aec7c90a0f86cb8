//go:build e2e

// Members whose reader credential moves, members that leave, and the
// completion of their names. These tests were federation_test.go's last, and
// still run after its others.

package federation

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
)

// The DNS reader's credential of a member joined before kfed-dns existed
// is in kfed-system, where coredns-fed may not read it: clusters says so, and
// joining again moves it. Unjoin finds a reader Secret by its labels, as
// the Cluster does not own it.
func TestReaderCredentialMoves(t *testing.T) {
	ensureJoined(t, "eur")
	s := hostStore(t)
	ctx := t.Context()
	name := store.CredentialSecretName("eur", v1alpha1.IdentityDNSReader)
	c, err := s.Clusters.Get(ctx, "eur", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Kube.CoreV1().Secrets(v1alpha1.DNSNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// As an older join left it: in kfed-system, owned by the Cluster.
	legacy := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: v1alpha1.Namespace, Labels: cur.Labels, Annotations: cur.Annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID}},
		},
		Type: cur.Type,
		Data: cur.Data,
	}
	if _, err := s.Kube.CoreV1().Secrets(v1alpha1.Namespace).Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Kube.CoreV1().Secrets(v1alpha1.DNSNamespace).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res := kubectl.Succeed(t, "fed", "clusters", "eur", "--context", hostCtx, "--federation", fedName, "-o", "wide")
	if !strings.Contains(res.Stdout, "(CredentialsInvalid)") || !strings.Contains(res.Stdout, "join the cluster again to move it to "+v1alpha1.DNSNamespace) {
		t.Errorf("clusters does not say to join eur again:\n%s", res.Stdout)
	}

	res = kubectl.Succeed(t, "fed", "join", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur")
	if want := "secret/" + name + " (removed from " + v1alpha1.Namespace + ")"; !strings.Contains(res.Stdout, "repaired") || !strings.Contains(res.Stdout, want) {
		t.Errorf("the join does not report the move (%q): %q", want, res.Stdout)
	}
	if _, err := s.Kube.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after the join, secret %s/%s: %v, want NotFound", v1alpha1.Namespace, name, err)
	}
	checkJoined(t, "eur")

	// A reader Secret that the Cluster does not name, as a join that could
	// not roll back may leave.
	stray := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-stray", Namespace: v1alpha1.DNSNamespace, Labels: cur.Labels},
		Type:       cur.Type,
		Data:       cur.Data,
	}
	if _, err := s.Kube.CoreV1().Secrets(v1alpha1.DNSNamespace).Create(ctx, stray, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur")
	assertHostHasNoCluster(t, "eur")
	waitMemberClean(t, testLab.Cluster("eur"))
	ensureJoined(t, "eur")
}

// Done 6: unjoin cleans both sides; --delete-resources removes what kfed
// distributed; --force with the member stopped cleans the host and reports
// what was left.
func TestUnjoin(t *testing.T) {
	ensureJoined(t, "eur")
	eur := testLab.Cluster("eur")
	ctx := t.Context()

	// Two ConfigMaps in the member: one as kfed distributes them, one not.
	distributed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kfed-distributed", Namespace: "default", Labels: map[string]string{
		v1alpha1.LabelFederation: fedName, v1alpha1.LabelManagedBy: v1alpha1.ManagedBy,
	}}}
	local := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "local", Namespace: "default"}}
	for _, cm := range []*corev1.ConfigMap{distributed, local} {
		if _, err := eur.Client().CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = eur.Client().CoreV1().ConfigMaps("default").Delete(context.Background(), local.Name, metav1.DeleteOptions{})
	})

	t.Run("keeps distributed objects by default", func(t *testing.T) {
		reader := store.CredentialSecretName("eur", v1alpha1.IdentityDNSReader)
		if _, err := hostStore(t).Kube.CoreV1().Secrets(v1alpha1.DNSNamespace).Get(ctx, reader, metav1.GetOptions{}); err != nil {
			t.Fatalf("before the unjoin: %v", err)
		}
		kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName)
		// The Cluster does not own the reader's Secret: unjoin deletes it.
		if _, err := hostStore(t).Kube.CoreV1().Secrets(v1alpha1.DNSNamespace).Get(ctx, reader, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after the unjoin, secret %s/%s: %v, want NotFound", v1alpha1.DNSNamespace, reader, err)
		}
		assertHostHasNoCluster(t, "eur")
		waitMemberClean(t, eur)
		if _, err := eur.Client().CoreV1().ConfigMaps("default").Get(ctx, distributed.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("unjoin without --delete-resources deleted a distributed object: %v", err)
		}
	})

	t.Run("--delete-resources", func(t *testing.T) {
		ensureJoined(t, "eur")
		res := kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur", "--delete-resources")
		if !strings.Contains(res.Stdout, "deleted 1 distributed objects") {
			t.Errorf("unjoin does not report the distributed object it deleted: %q", res.Stdout)
		}
		assertHostHasNoCluster(t, "eur")
		waitMemberClean(t, eur)
		if _, err := eur.Client().CoreV1().ConfigMaps("default").Get(ctx, distributed.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the distributed ConfigMap is still there: %v", err)
		}
		if _, err := eur.Client().CoreV1().ConfigMaps("default").Get(ctx, local.Name, metav1.GetOptions{}); err != nil {
			t.Errorf("unjoin --delete-resources deleted an object kfed did not distribute: %v", err)
		}
	})

	t.Run("--force with the member stopped", func(t *testing.T) {
		ensureJoined(t, "eur")
		stopAPIServer(t, eur)
		res := kubectl.Fail(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName)
		if !strings.Contains(res.Stderr, "cannot reach") || !strings.Contains(res.Stderr, "--force") {
			t.Errorf("the error does not say the member is unreachable and suggest --force:\n%s", res.Stderr)
		}
		if _, err := hostStore(t).Clusters.Get(ctx, "eur", metav1.GetOptions{}); err != nil {
			t.Errorf("a refused unjoin changed the host: %v", err)
		}

		res = kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName, "--force")
		assertHostHasNoCluster(t, "eur")
		for _, want := range []string{
			"configmap/" + membership.MembershipConfigMap,
			"clusterrolebinding/" + membership.ManagerClusterRoleBinding,
			"clusterrolebinding/" + membership.DNSReaderClusterRoleBinding,
			"clusterrole/" + membership.DNSReaderClusterRole,
			"serviceaccount/" + membership.ManagerServiceAccount,
			"serviceaccount/" + membership.DNSReaderServiceAccount,
			"secret/" + membership.ManagerServiceAccount + "-anchor-",
			"secret/" + membership.DNSReaderServiceAccount + "-anchor-",
			"kubectl delete -n kfed-system",
		} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("unjoin --force does not report %q as left in the member", want)
			}
		}
		if !strings.Contains(res.Stderr, `cluster "eur" was not cleaned`) {
			t.Errorf("unjoin --force does not warn that the member was not cleaned:\n%s", res.Stderr)
		}

		// What it reported is indeed there once the member is back.
		startAPIServer(t, eur)
		left, err := memberLeftovers(ctx, eur.Client())
		if err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			t.Errorf("unjoin --force reported leftovers, but the member has none")
		}
		for _, s := range tokenSecrets(t, eur.Client()) {
			if !strings.Contains(res.Stdout, "secret/"+s.Name) {
				t.Errorf("token Secret %s was left but not reported", s.Name)
			}
		}
	})

	// A join over what --force left takes the member back and replaces the
	// old tokens.
	kubectl.Succeed(t, "fed", "join", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur")
	checkJoined(t, "eur")
}

// Completion offers the host's members and the kubeconfig's contexts.
// kubectl hands completion of a plugin's arguments to the plugin (through
// a kubectl_complete-fed on PATH); this calls the plugin's completion
// directly, as that does.
func TestCompletion(t *testing.T) {
	ensureJoined(t, "usa", "eur", "jpn")
	complete := func(args ...string) string {
		t.Helper()
		path, err := exec.LookPath("kubectl-fed")
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.CommandContext(t.Context(), path, append([]string{"__complete", "--kubeconfig", testLab.Kubeconfig}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl-fed __complete %s: %v", strings.Join(args, " "), err)
		}
		t.Logf("kubectl-fed __complete %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	out := complete("unjoin", "--context", hostCtx, "--federation", fedName, "")
	for _, name := range []string{"usa", "eur", "jpn"} {
		if !strings.Contains(out, name+"\n") {
			t.Errorf("unjoin does not complete %q", name)
		}
	}
	if out := complete("clusters", "--context", hostCtx, "--federation", fedName, "eur", "j"); !strings.HasPrefix(out, "jpn\n") {
		t.Errorf("clusters does not complete the member jpn")
	}
	if out := complete("join", "x", "--cluster-context", "e"); !strings.HasPrefix(out, "eur\n") {
		t.Errorf("--cluster-context does not complete the context eur")
	}
	if out := complete("clusters", "--context", hostCtx, "--federation", "m"); !strings.HasPrefix(out, fedName+"\n") {
		t.Errorf("--federation does not complete %s", fedName)
	}
	// --member-context: a member and "=", with no space after it (cobra's
	// directive 6: no space, no files), then a context.
	if out := complete("status", "--context", hostCtx, "--federation", fedName, "--member-context", "j"); !strings.HasPrefix(out, "jpn=\n:6\n") {
		t.Errorf("--member-context does not complete the member jpn and its \"=\"")
	}
	if out := complete("dns", "explain", "x", "--context", hostCtx, "--member-context", "jpn=e"); !strings.HasPrefix(out, "jpn=eur\n") {
		t.Errorf("--member-context does not complete the context eur after jpn=")
	}
}
