//go:build e2e

package delegation_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// nsOption matches the ns options of a Corefile's fed block.
var nsOption = regexp.MustCompile(`(?m)^[ \t]*ns \S+.*$`)

// TestInstallAllClusters is the --all-clusters part of done-when 4: every
// cluster gets the workload, once; install prints NS and glue for each
// cluster's load-balancer address; every Corefile names the same
// nameservers; and a member's coredns-fed gets a kubeconfig that reaches
// the host.
func TestInstallAllClusters(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	t.Logf("%s", in.result)
	out := in.result.Stdout

	// One nameserver per cluster, the host (usa, also a member) once.
	var glue []string
	nsCount := 0
	for _, rr := range in.records {
		switch rr := rr.(type) {
		case *dns.NS:
			nsCount++
		case *dns.A:
			glue = append(glue, rr.A.String())
		}
	}
	var want []string
	for _, c := range members {
		want = append(want, in.server[c].String())
	}
	slices.Sort(glue)
	slices.Sort(want)
	if nsCount != len(members) || !slices.Equal(glue, want) {
		t.Errorf("install printed %d NS records and glue %v, want %d and the load-balancer addresses %v", nsCount, glue, len(members), want)
	}
	for i, c := range members {
		label := c
		if c == host {
			label += " (host)"
		}
		name := fmt.Sprintf("ns%d.%s", i+1, domain)
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(in.server[c].String()) + `\s+` + regexp.QuoteMeta(label) + `$`)
		if !row.MatchString(out) {
			t.Errorf("install printed no line saying %s at %s runs in %s", name, in.server[c], label)
		}
	}

	hostClient := testLab.Cluster(host).Client()
	var hostNS []string
	for _, c := range testLab.Clusters {
		client := c.Client()
		d, err := client.AppsV1().Deployments(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		cm, err := client.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		corefile := cm.Data["Corefile"]
		ns := nsOption.FindAllString(corefile, -1)
		if c.Name == host {
			hostNS = ns
		} else if !slices.Equal(ns, hostNS) {
			t.Errorf("the Corefile of %s names the nameservers %q, the host's %q", c.Name, ns, hostNS)
		}
		if len(ns) != len(members) {
			t.Errorf("the Corefile of %s names %d nameservers, want %d:\n%s", c.Name, len(ns), len(members), corefile)
		}
		if !strings.Contains(corefile, fmt.Sprintf("ttl %d\n", ttl)) {
			t.Errorf("the Corefile of %s has no ttl %d:\n%s", c.Name, ttl, corefile)
		}
		const kubeconfigLine = "kubeconfig /etc/kfed-host/kubeconfig\n"
		pod := d.Spec.Template.Spec
		if c.Name == host {
			if strings.Contains(corefile, "kubeconfig") {
				t.Errorf("the host's Corefile names a kubeconfig; in the host, coredns-fed reads it in-cluster:\n%s", corefile)
			}
			continue
		}
		if !strings.Contains(corefile, kubeconfigLine) {
			t.Errorf("the Corefile of %s has no %q:\n%s", c.Name, kubeconfigLine, corefile)
		}
		mounted := slices.ContainsFunc(pod.Containers[0].VolumeMounts, func(m corev1.VolumeMount) bool {
			return m.MountPath == "/etc/kfed-host" && m.ReadOnly
		})
		fromSecret := slices.ContainsFunc(pod.Volumes, func(v corev1.Volume) bool {
			return v.Secret != nil && v.Secret.SecretName == "coredns-fed-host"
		})
		if !mounted || !fromSecret {
			t.Errorf("the Deployment of %s does not mount the Secret coredns-fed-host read-only at /etc/kfed-host: %+v, %+v", c.Name, pod.Volumes, pod.Containers[0].VolumeMounts)
		}
		if ptr.Deref(pod.AutomountServiceAccountToken, true) {
			t.Errorf("the pods of %s get a token of their own cluster, which they do not use", c.Name)
		}

		// The kubeconfig reaches the host, as the coredns-fed ServiceAccount.
		secret, err := client.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-host", metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		cfg, err := store.ConfigFromSecret(secret)
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		if cfg.Host != testLab.Cluster(host).Server {
			t.Errorf("the kubeconfig of %s reaches %s, want the host at %s", c.Name, cfg.Host, testLab.Cluster(host).Server)
		}
		s, err := store.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		list, err := s.Members(t.Context(), federation)
		if err != nil {
			t.Errorf("listing the Clusters of the host with the kubeconfig of %s: %v", c.Name, err)
		} else if len(list) != len(members) {
			t.Errorf("the kubeconfig of %s lists %d Clusters in the host, want %d", c.Name, len(list), len(members))
		}
		if _, err := s.Kube.CoreV1().Secrets("kube-system").List(t.Context(), metav1.ListOptions{}); err == nil {
			t.Errorf("the kubeconfig of %s may list the host's Secrets in kube-system; it should be the coredns-fed ServiceAccount's", c.Name)
		}

		// The token behind it is the host's coredns-fed's, bound to an
		// anchor of its own in the host and expiring, and is never printed.
		tok, info, err := store.SecretToken(secret)
		if err != nil {
			t.Fatal(err)
		}
		if tok == "" || strings.Contains(out+in.result.Stderr, tok) {
			t.Errorf("the token of %s is empty, or install printed it", c.Name)
		}
		if info.Legacy() || info.ServiceAccount != v1alpha1.Namespace+"/coredns-fed" {
			t.Errorf("the token of %s is of %s and expires %v; want a bound, expiring token of %s/coredns-fed", c.Name, info.ServiceAccount, info.Expires, v1alpha1.Namespace)
		}
		anchor, err := hostClient.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), info.BoundSecret, metav1.GetOptions{})
		if err != nil {
			t.Errorf("the anchor of the token of %s in the host: %v", c.Name, err)
			continue
		}
		if anchor.Type != store.SecretTypeTokenAnchor || anchor.Labels[v1alpha1.LabelCluster] != c.Name || string(anchor.UID) != info.BoundSecretUID {
			t.Errorf("the anchor %s of the token of %s: type %s, cluster %q, UID %s; want an anchor of %s with UID %s",
				anchor.Name, c.Name, anchor.Type, anchor.Labels[v1alpha1.LabelCluster], anchor.UID, c.Name, info.BoundSecretUID)
		}
	}
}

// TestInstallReportsFailedMember: when a member cannot be reached, install
// goes on with the others, leaves the member out of the records, says
// which failed and why, and exits 1.
func TestInstallReportsFailedMember(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	const down = "jpn"
	c := testLab.Cluster(down)
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.StartAPIServer(context.Background()); err != nil {
			t.Errorf("starting the API server of %s again: %v", down, err)
		}
	})

	eurToken, eurDigest := dnsHostState(t, "eur")
	res := kubectl.Fail(t, "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--timeout", "30s")
	if res.ExitCode != 1 {
		t.Errorf("exit %d, want 1", res.ExitCode)
	}
	// A re-run keeps a member's token of the host that is not due, and so
	// does not restart its pods.
	if token, digest := dnsHostState(t, "eur"); token != eurToken || digest != eurDigest {
		t.Errorf("a re-run of install replaced eur's token of the host (digest %s, was %s)", digest, eurDigest)
	}
	if want := "coredns-fed is not installed in 1 of 3 clusters"; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, res.Stderr)
	}
	if want := "  " + down + ": not ready: "; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr does not name %s and why (%q):\n%s", down, want, res.Stderr)
	}
	records, err := delegationRecords(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	var glue []string
	for _, rr := range records {
		if a, ok := rr.(*dns.A); ok {
			glue = append(glue, a.A.String())
		}
	}
	slices.Sort(glue)
	want := []string{in.server["usa"].String(), in.server["eur"].String()}
	slices.Sort(want)
	if !slices.Equal(glue, want) {
		t.Errorf("glue %v, want the servers of usa and eur only, %v", glue, want)
	}
	cm, err := testLab.Cluster("eur").Client().CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := nsOption.FindAllString(cm.Data["Corefile"], -1); len(ns) != 2 {
		t.Errorf("the Corefile of eur names %q, want the two servers installed", ns)
	}
}

// TestUnjoinRevokesDNSToken: unjoining a member deletes the host's token
// that its coredns-fed read the federation with, so the kubeconfig left in
// the member no longer reaches the host. It runs last: jpn leaves the
// federation.
func TestUnjoinRevokesDNSToken(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	setUp(t)
	const member = "jpn"
	// The token unjoin revokes is one rotate gave.
	rotateDNSHost(t, member)
	secret, err := testLab.Cluster(member).Client().CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-host", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := store.ConfigFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Members(t.Context(), federation); err != nil {
		t.Fatalf("before unjoin, the kubeconfig of %s does not reach the host: %v", member, err)
	}

	_, info, err := store.SecretToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "unjoin", member, "--context", host)
	hostClient := testLab.Cluster(host).Client()
	if _, err := hostClient.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), info.BoundSecret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after unjoin, the anchor %s of the host's token for %s: %v, want NotFound", info.BoundSecret, member, err)
	}
	// A bound token is valid only while its anchor exists. The API server
	// caches a token it has accepted for 10 s, so the refusal can take that
	// long.
	framework.Eventually(t, 30*time.Second, 100*time.Millisecond, "the kubeconfig of "+member+" is refused by the host after unjoin", func(ctx context.Context) error {
		if _, err := s.Members(ctx, federation); !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("reading the host's Clusters: %v, want 401 Unauthorized", err)
		}
		return nil
	})
}
