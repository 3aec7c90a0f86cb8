//go:build e2e

package deploy_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestKustomizeBaseApplies is done-when 2: the base's output passes a
// server-side dry run, and a real server-side apply succeeds.
func TestKustomizeBaseApplies(t *testing.T) {
	out := kubectl.Succeed(t, "kustomize", filepath.Join(repoRoot(t), "deploy", "coredns-fed"))
	manifest := filepath.Join(t.TempDir(), "coredns-fed.yaml")
	if err := os.WriteFile(manifest, []byte(out.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	dry := kubectl.Succeed(t, "apply", "--server-side", "--dry-run=server", "--field-manager", "kubectl-fed", "--context", host, "-f", manifest)
	if !strings.Contains(dry.Stdout, "deployment.apps/coredns-fed serverside-applied (server dry run)") {
		t.Errorf("dry run did not apply the Deployment:\n%s", dry.Stdout)
	}
	kubectl.Succeed(t, "apply", "--server-side", "--field-manager", "kubectl-fed", "--context", host, "-f", manifest)

	client := testLab.Cluster(host).Client()
	d, err := client.AppsV1().Deployments(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := ptr.Deref(d.Spec.Replicas, 0); r < 2 {
		t.Errorf("%d replicas, want at least 2", r)
	}
	sc := d.Spec.Template.Spec.Containers[0].SecurityContext
	if sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) {
		t.Errorf("container security context %+v", sc)
	}
	if _, err := client.PolicyV1().PodDisruptionBudgets(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
}

// tokenKubeconfig writes a kubeconfig for the host with a TokenRequest
// token of the base's ServiceAccount.
func tokenKubeconfig(t *testing.T) (string, kubernetes.Interface) {
	t.Helper()
	c := testLab.Cluster(host)
	tr, err := c.Client().CoreV1().ServiceAccounts(v1alpha1.Namespace).CreateToken(t.Context(), "coredns-fed",
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[host] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["coredns-fed"] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts["coredns-fed"] = &clientcmdapi.Context{Cluster: host, AuthInfo: "coredns-fed"}
	cfg.CurrentContext = "coredns-fed"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	return path, kubernetes.NewForConfigOrDie(rc)
}

func query(t *testing.T, server, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	return r, err
}

// appName is the sample app's federated name.
var appFQDN = appName + "." + appNS + "." + federation + ".svc." + domain + "."

func waitForAnswer(t *testing.T, s *server, want string) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, 200*time.Millisecond, "coredns-fed at "+s.addr+" answers "+appFQDN, func(context.Context) error {
		r, err := query(t, s.addr, appFQDN, dns.TypeA)
		if err != nil {
			return err
		}
		if got := framework.Addresses(r); !slices.Equal(got, []string{want}) {
			return fmt.Errorf("answer %v (rcode %s), want [%s]", got, dns.RcodeToString[r.Rcode], want)
		}
		return nil
	})
}

// TestServiceAccountServesAndNoMore is done-when 3: coredns-fed with the
// base's ServiceAccount token serves the federation, and that token is
// refused every Secret but the DNS readers' credentials in kfed-dns.
func TestServiceAccountServesAndNoMore(t *testing.T) {
	kubectl.Succeed(t, "apply", "--server-side", "--field-manager", "kubectl-fed", "--context", host, "-k", filepath.Join(repoRoot(t), "deploy", "coredns-fed"))
	kubeconfig, client := tokenKubeconfig(t)

	s := startServer(t, kubeconfig, "", "127.0.0.1")
	waitForAnswer(t, s, appAddr.String())

	ctx := t.Context()
	secrets := client.CoreV1().Secrets
	manager := store.CredentialSecretName(host, v1alpha1.IdentityManager)
	reader := store.CredentialSecretName(host, v1alpha1.IdentityDNSReader)
	get := func(ns, name string) error { _, err := secrets(ns).Get(ctx, name, metav1.GetOptions{}); return err }
	list := func(ns string) error { _, err := secrets(ns).List(ctx, metav1.ListOptions{}); return err }
	watch := func(ns string) error {
		w, err := secrets(ns).Watch(ctx, metav1.ListOptions{})
		if err == nil {
			w.Stop()
		}
		return err
	}
	for what, err := range map[string]error{
		"get secret " + v1alpha1.Namespace + "/" + manager: get(v1alpha1.Namespace, manager),
		"list secrets in " + v1alpha1.Namespace:            list(v1alpha1.Namespace),
		"watch secrets in " + v1alpha1.Namespace:           watch(v1alpha1.Namespace),
		"list secrets in kube-system":                      list(metav1.NamespaceSystem),
		"list secrets in every namespace":                  list(metav1.NamespaceAll),
		// coredns-fed's informers list and watch; it never gets one by name.
		"get secret " + v1alpha1.DNSNamespace + "/" + reader: get(v1alpha1.DNSNamespace, reader),
	} {
		if !apierrors.IsForbidden(err) {
			t.Errorf("%s with the coredns-fed token: %v, want 403 Forbidden", what, err)
		}
	}

	// What it may read holds the DNS readers' credentials and nothing else.
	readers, err := secrets(v1alpha1.DNSNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list secrets in %s with the coredns-fed token: %v", v1alpha1.DNSNamespace, err)
	}
	found := false
	for _, sec := range readers.Items {
		found = found || sec.Name == reader
		if sec.Labels[v1alpha1.LabelIdentity] != v1alpha1.IdentityDNSReader {
			t.Errorf("%s holds secret %s, which is no DNS reader's credential", v1alpha1.DNSNamespace, sec.Name)
		}
	}
	if !found {
		t.Errorf("the coredns-fed token lists %d Secrets in %s, and not %s", len(readers.Items), v1alpha1.DNSNamespace, reader)
	}
	// Its one write: a refreshed DNS-reader token back into its Secret, here
	// the Secret as it is; and no write of a manager's credential. Both
	// are dry runs, which are authorized as the real thing.
	dryRun := metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}
	for i := range readers.Items {
		if readers.Items[i].Name != reader {
			continue
		}
		if _, err := secrets(v1alpha1.DNSNamespace).Update(ctx, &readers.Items[i], dryRun); err != nil {
			t.Errorf("update secret %s/%s with the coredns-fed token: %v", v1alpha1.DNSNamespace, reader, err)
		}
	}
	_, err = secrets(v1alpha1.Namespace).Update(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: manager, Namespace: v1alpha1.Namespace}}, dryRun)
	if !apierrors.IsForbidden(err) {
		t.Errorf("update secret %s/%s with the coredns-fed token: %v, want 403 Forbidden", v1alpha1.Namespace, manager, err)
	}
}

// TestDNSInstall is done-when 4: install creates the workload and prints
// NS and glue records naming its load-balancer address.
func TestDNSInstall(t *testing.T) {
	res := kubectl.Succeed(t, "fed", "dns", "install", "--context", host, "--timeout", "2m")
	svc, err := testLab.Cluster(host).Client().CoreV1().Services(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		t.Fatal("the coredns-fed Service has no load-balancer address")
	}
	lb := svc.Status.LoadBalancer.Ingress[0].IP
	for _, want := range []string{
		domain + ".\tIN\tNS\tns1." + domain + ".\n",
		"ns1." + domain + ".\tIN\tA\t" + lb + "\n",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("install did not print %q", want)
		}
	}
	cm, err := testLab.Cluster(host).Client().CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "ns ns1." + domain + " " + lb; !strings.Contains(cm.Data["Corefile"], want) {
		t.Errorf("the Corefile has no %q:\n%s", want, cm.Data["Corefile"])
	}
	settings, err := testLab.Cluster(host).Client().CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if settings.Data["KFED_FEDERATION"] != federation || settings.Data["KFED_DOMAIN"] != domain {
		t.Errorf("settings %v", settings.Data)
	}

	// The host is the only member: --all-clusters installs into it once,
	// as the host, with no kubeconfig of its own to read itself with.
	res = kubectl.Succeed(t, "fed", "dns", "install", "--context", host, "--all-clusters", "--timeout", "2m")
	if strings.Contains(res.Stdout, "ns2.") {
		t.Errorf("install --all-clusters named a second nameserver with the host as its only member:\n%s", res.Stdout)
	}
	if !regexp.MustCompile(`(?m)^ns1\.` + regexp.QuoteMeta(domain) + `\s+` + regexp.QuoteMeta(lb) + `\s+` + host + ` \(host\)$`).MatchString(res.Stdout) {
		t.Errorf("install --all-clusters did not say ns1 at %s runs in the host %s:\n%s", lb, host, res.Stdout)
	}
	if _, err := testLab.Cluster(host).Client().CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-host", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the host got a kubeconfig of itself, as a member would (%v)", err)
	}
}

// TestDNSCheck is done-when 5: check passes against two servers on
// loopback, and names the problem when one of them is stopped.
func TestDNSCheck(t *testing.T) {
	a := startServer(t, testLab.Kubeconfig, host, "127.0.0.1")
	b := startServer(t, testLab.Kubeconfig, host, "127.0.0.1")
	waitForAnswer(t, a, appAddr.String())
	waitForAnswer(t, b, appAddr.String())

	args := []string{"fed", "dns", "check", "--context", host, "--server", a.addr, "--server", b.addr, "--name", appName + "." + appNS}
	res := kubectl.Succeed(t, args...)
	if !strings.Contains(res.Stdout, "All 2 server(s) answer for "+domain+".") {
		t.Errorf("check did not report success:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stdout, appFQDN+" has "+appAddr.String()) {
		t.Errorf("check did not report the federated name's address:\n%s", res.Stdout)
	}

	b.stop()
	res = kubectl.Fail(t, args...)
	if res.ExitCode != 1 {
		t.Errorf("exit %d, want 1", res.ExitCode)
	}
	if want := b.addr + "  PROBLEM: nothing answers DNS at " + b.addr; !strings.Contains(res.Stdout, want) {
		t.Errorf("check did not name the stopped server; want %q in:\n%s", want, res.Stdout)
	}
	if !strings.Contains(res.Stderr, "problem(s) found") {
		t.Errorf("stderr: %s", res.Stderr)
	}
}
