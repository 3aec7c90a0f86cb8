//go:build e2e

// Package federation tests `kubectl fed init`, `join`, `unjoin` and
// `clusters` end to end: the real kubectl runs the plugin against a lab of
// three real clusters (usa, eur, jpn), and the tests check both sides with
// client-go.
//
// The tests share one lab and one federation, and run one after another:
// each starts by putting the federation in the state it needs.
package federation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	fedName = "magicring"
	domain  = "demo.example.com"
	hostCtx = "usa"
)

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	l, err := framework.StartLab("federation", lab.DefaultClusters())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	defer func() { framework.StopLab(l, code == 0) }()
	testLab = l
	if kubectl, err = framework.NewKubectl(l.Kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code = m.Run()
	return code
}

// hostStore returns the store of the host cluster, usa, as its admin.
func hostStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.New(testLab.Cluster(hostCtx).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ensureInit creates the federation if an earlier test has not.
func ensureInit(t testing.TB) {
	t.Helper()
	if _, err := hostStore(t).Federations.Get(t.Context(), fedName, metav1.GetOptions{}); err == nil {
		return
	}
	kubectl.Succeed(t, "fed", "init", fedName, "--context", hostCtx, "--domain", domain)
}

// ensureJoined joins the members named, each under its lab name, unless
// they already are.
func ensureJoined(t testing.TB, names ...string) {
	t.Helper()
	ensureInit(t)
	for _, name := range names {
		c, err := hostStore(t).Clusters.Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && c.Spec.Federation == fedName {
			continue
		}
		waitNamespaceSettled(t, testLab.Cluster(name))
		kubectl.Succeed(t, "fed", "join", name, "--context", hostCtx, "--federation", fedName, "--cluster-context", name)
	}
}

// ensureUnjoined removes a member, leaving both sides clean.
func ensureUnjoined(t testing.TB, name string) {
	t.Helper()
	if c, err := hostStore(t).Clusters.Get(t.Context(), name, metav1.GetOptions{}); err == nil {
		kubectl.Succeed(t, "fed", "unjoin", name, "--context", hostCtx, "--federation", c.Spec.Federation, "--cluster-context", name)
	}
	waitMemberClean(t, testLab.Cluster(name))
}

// stopAPIServer stops a member's API server for the rest of the test.
func stopAPIServer(t testing.TB, c *lab.Cluster) {
	t.Helper()
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { startAPIServer(t, c) })
}

func startAPIServer(t testing.TB, c *lab.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatalf("restarting the API server of %s: %v", c.Name, err)
	}
	waitTokenController(t, c)
}

// waitTokenController waits until the member's token controller fills a
// token Secret again. After an API server restart the controller manager's
// watches back off for a while, and a join in that window would wait on
// it.
func waitTokenController(t testing.TB, c *lab.Cluster) {
	t.Helper()
	kube := c.Client()
	ctx := context.Background()
	secret, err := kube.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-token-probe-", Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer kube.CoreV1().Secrets("default").Delete(ctx, secret.Name, metav1.DeleteOptions{})
	begin := time.Now()
	// Not t.Context(): this also runs in cleanups, when that is done.
	err = framework.Poll(ctx, 3*time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
		s, err := kube.CoreV1().Secrets("default").Get(ctx, secret.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Data[corev1.ServiceAccountTokenKey]) == 0 {
			return fmt.Errorf("token Secret %s is not filled", s.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the token controller of %s: %v", c.Name, err)
	}
	t.Logf("the token controller of %s filled a token %s after the API server was ready", c.Name, time.Since(begin).Round(100*time.Millisecond))
}

// memberLeftovers lists what kfed's join made that is still in a member.
func memberLeftovers(ctx context.Context, kube kubernetes.Interface) ([]string, error) {
	var left []string
	sel := metav1.ListOptions{LabelSelector: v1alpha1.LabelManagedBy + "=" + v1alpha1.ManagedBy}
	if ns, err := kube.CoreV1().Namespaces().Get(ctx, v1alpha1.Namespace, metav1.GetOptions{}); err == nil {
		left = append(left, "namespace/"+ns.Name+" ("+string(ns.Status.Phase)+")")
	} else if !apierrors.IsNotFound(err) {
		return nil, err
	}
	crbs, err := kube.RbacV1().ClusterRoleBindings().List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range crbs.Items {
		left = append(left, "clusterrolebinding/"+o.Name)
	}
	crs, err := kube.RbacV1().ClusterRoles().List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range crs.Items {
		left = append(left, "clusterrole/"+o.Name)
	}
	return left, nil
}

// waitMemberClean waits until nothing join made is left in a member. A
// namespace takes the member's namespace controller a moment to empty, and
// longer after an API server restart, when the controllers back off.
func waitMemberClean(t testing.TB, c *lab.Cluster) {
	t.Helper()
	kube := c.Client()
	framework.Eventually(t, 3*time.Minute, time.Second, "nothing of kfed's left in "+c.Name, func(ctx context.Context) error {
		left, err := memberLeftovers(ctx, kube)
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("left in %s: %s", c.Name, strings.Join(left, ", "))
		}
		return nil
	})
}

// waitNamespaceSettled waits until a member's kfed-system is either gone or
// not being deleted: join refuses a namespace on its way out, and repairs
// anything else.
func waitNamespaceSettled(t testing.TB, c *lab.Cluster) {
	t.Helper()
	kube := c.Client()
	framework.Eventually(t, 3*time.Minute, time.Second, "namespace "+v1alpha1.Namespace+" settled in "+c.Name, func(ctx context.Context) error {
		ns, err := kube.CoreV1().Namespaces().Get(ctx, v1alpha1.Namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if ns.DeletionTimestamp != nil {
			return fmt.Errorf("namespace %s in %s is still being deleted", ns.Name, c.Name)
		}
		return nil
	})
}

// assertHostHasNoCluster checks that the host holds no Cluster and no
// credential Secret for name.
func assertHostHasNoCluster(t testing.TB, name string) {
	t.Helper()
	s := hostStore(t)
	if c, err := s.Clusters.Get(t.Context(), name, metav1.GetOptions{}); err == nil {
		t.Errorf("the host still has cluster.kfed.dev/%s (federation %s)", name, c.Spec.Federation)
	} else if !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	for _, ns := range []string{v1alpha1.Namespace, v1alpha1.DNSNamespace} {
		secrets, err := s.Kube.CoreV1().Secrets(ns).List(t.Context(), metav1.ListOptions{
			LabelSelector: v1alpha1.LabelCluster + "=" + name,
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets.Items {
			t.Errorf("the host still has secret %s/%s", sec.Namespace, sec.Name)
		}
	}
	for _, id := range membership.Identities() {
		n, ns := store.CredentialSecretName(name, id), s.CredentialNamespace(id)
		if _, err := s.Kube.CoreV1().Secrets(ns).Get(t.Context(), n, metav1.GetOptions{}); err == nil {
			t.Errorf("the host still has secret %s/%s", ns, n)
		}
	}
}

// identityConfig returns the client configuration the host holds for one
// identity of a member, as coredns-fed would read it.
func identityConfig(t testing.TB, member, identity string) *rest.Config {
	t.Helper()
	s := hostStore(t)
	c, err := s.Clusters.Get(t.Context(), member, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := s.MemberConfig(t.Context(), c, identity)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 10 * time.Second
	return cfg
}

func clientFor(t testing.TB, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// expectStatus checks that err is an API error with the given HTTP code.
func expectStatus(t testing.TB, what string, err error, code int32) {
	t.Helper()
	var st apierrors.APIStatus
	if err == nil {
		t.Errorf("%s: succeeded, want HTTP %d", what, code)
		return
	}
	if !errors.As(err, &st) || st.Status().Code != code {
		t.Errorf("%s: %v, want HTTP %d", what, err, code)
	}
}

// tokenSecrets lists the anchors of kfed's identities' tokens in a member:
// the Secrets their bound tokens are bound to, one per token.
func tokenSecrets(t testing.TB, kube kubernetes.Interface) []corev1.Secret {
	t.Helper()
	list, err := kube.CoreV1().Secrets(v1alpha1.Namespace).List(t.Context(), metav1.ListOptions{
		FieldSelector: "type=" + string(store.SecretTypeTokenAnchor),
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []corev1.Secret
	for _, s := range list.Items {
		switch s.Annotations[corev1.ServiceAccountNameKey] {
		case membership.ManagerServiceAccount, membership.DNSReaderServiceAccount:
			out = append(out, s)
		}
	}
	return out
}
