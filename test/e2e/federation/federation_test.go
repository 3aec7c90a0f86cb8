//go:build e2e

package federation

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// Done 1: init, then join all three clusters, the host among them;
// `clusters` shows them Ready with their regions and zones, and kubectl get
// agrees.
func TestInitAndJoin(t *testing.T) {
	t.Run("invalid name and domain", func(t *testing.T) {
		res := kubectl.Fail(t, "fed", "init", "Magic_Ring", "--context", hostCtx, "--domain", domain)
		if !strings.Contains(res.Stderr, `invalid federation name "Magic_Ring"`) || !strings.Contains(res.Stderr, "RFC 1123") {
			t.Errorf("the error does not say why the name is invalid:\n%s", res.Stderr)
		}
		res = kubectl.Fail(t, "fed", "init", fedName, "--context", hostCtx, "--domain", "localhost")
		if !strings.Contains(res.Stderr, `invalid domain "localhost"`) || !strings.Contains(res.Stderr, "at least two labels") {
			t.Errorf("the error does not say why the domain is invalid:\n%s", res.Stderr)
		}
	})

	res := kubectl.Succeed(t, "fed", "init", fedName, "--context", hostCtx, "--domain", domain)
	for _, want := range []string{
		"customresourcedefinition.apiextensions.k8s.io/clusters.kfed.dev ",
		"customresourcedefinition.apiextensions.k8s.io/federations.kfed.dev ",
		"namespace/kfed-system ",
		"namespace/kfed-dns ",
		"federation.kfed.dev/" + fedName + " ",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("init did not report %q", want)
		}
	}
	// Idempotent, and the old tool's flags work as written.
	res = kubectl.Succeed(t, "fed", "init", fedName, "--host-cluster-context="+hostCtx, "--dns-zone-name="+domain)
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if !strings.HasSuffix(line, " unchanged") {
			t.Errorf("a second init changed something: %q", line)
		}
	}
	f, err := hostStore(t).Federations.Get(t.Context(), fedName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Spec.Domain != domain {
		t.Errorf("federation domain = %q, want %q", f.Spec.Domain, domain)
	}

	// The host joins itself; eur joins with the old tool's flags.
	kubectl.Succeed(t, "fed", "join", "usa", "--context", hostCtx, "--cluster-context", "usa")
	kubectl.Succeed(t, "fed", "join", "eur", "--host-cluster-context="+hostCtx, "--cluster-context=eur")
	kubectl.Succeed(t, "fed", "join", "jpn", "--context", hostCtx, "--cluster-context", "jpn")

	res = kubectl.Succeed(t, "fed", "clusters", "--context", hostCtx)
	rows := tableRows(t, res.Stdout)
	if got := rows[0]; strings.Join(got, " ") != "NAME READY REGION ZONE VERSION NODES LATENCY TOKENS AGE" {
		t.Errorf("header = %q", got)
	}
	want := map[string][2]string{}
	for _, c := range testLab.Clusters {
		want[c.Name] = [2]string{c.Region, c.Zone}
	}
	seen := 0
	for _, row := range rows[1:] {
		w, ok := want[row[0]]
		if !ok {
			t.Errorf("unexpected row %q", row)
			continue
		}
		seen++
		if row[1] != "Ready" || row[2] != w[0] || row[3] != w[1] || row[4] != "v1.35.4" || row[5] != "3" {
			t.Errorf("row %q, want Ready in %s/%s, v1.35.4, 3 nodes", row, w[0], w[1])
		}
	}
	if seen != 3 {
		t.Errorf("clusters shows %d of the 3 members", seen)
	}

	// kubectl get agrees, through the CRD's printer columns.
	res = kubectl.Succeed(t, "get", "clusters.kfed.dev", "-n", "kfed-system", "--context", hostCtx)
	rows = tableRows(t, res.Stdout)
	if got := strings.Join(rows[0], " "); got != "NAME FEDERATION REGION ZONE READY VERSION NODES AGE" {
		t.Errorf("kubectl get header = %q", got)
	}
	for _, row := range rows[1:] {
		w := want[row[0]]
		if row[1] != fedName || row[2] != w[0] || row[3] != w[1] || row[4] != "True" || row[5] != "v1.35.4" || row[6] != "3" {
			t.Errorf("kubectl get row %q disagrees: want %s %s %s True v1.35.4 3", row, fedName, w[0], w[1])
		}
	}

	for _, c := range testLab.Clusters {
		t.Run("state of "+c.Name, func(t *testing.T) { checkJoined(t, c.Name) })
	}
}

// Done 2: a re-run is harmless; a taken name fails clearly.
func TestRejoin(t *testing.T) {
	ensureJoined(t, "usa", "eur", "jpn")
	s := hostStore(t)
	before, err := s.Kube.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), store.CredentialSecretName("eur", v1alpha1.IdentityManager), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := kubectl.Succeed(t, "fed", "join", "eur", "--context", hostCtx, "--cluster-context", "eur")
	if strings.TrimSpace(res.Stdout) != "cluster.kfed.dev/eur unchanged" {
		t.Errorf("a re-run says %q, want unchanged", res.Stdout)
	}
	after, err := s.Kube.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), before.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a re-run rewrote the credential Secret")
	}
	if n := len(tokenSecrets(t, testLab.Cluster("eur").Client())); n != 2 {
		t.Errorf("after a re-run eur has %d token Secrets, want 2", n)
	}

	// A re-run repairs a missing piece.
	eur := testLab.Cluster("eur").Client()
	if err := eur.RbacV1().ClusterRoleBindings().Delete(t.Context(), membership.DNSReaderClusterRoleBinding, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res = kubectl.Succeed(t, "fed", "join", "eur", "--context", hostCtx, "--cluster-context", "eur")
	if !strings.Contains(res.Stdout, "repaired") || !strings.Contains(res.Stdout, "clusterrolebinding/"+membership.DNSReaderClusterRoleBinding) {
		t.Errorf("the re-run did not report the repair: %q", res.Stdout)
	}
	if _, err := eur.RbacV1().ClusterRoleBindings().Get(t.Context(), membership.DNSReaderClusterRoleBinding, metav1.GetOptions{}); err != nil {
		t.Errorf("the re-run did not repair the binding: %v", err)
	}

	// A taken name.
	res = kubectl.Fail(t, "fed", "join", "eur", "--context", hostCtx, "--cluster-context", "jpn")
	if !strings.Contains(res.Stderr, `cluster name "eur" is already taken`) {
		t.Errorf("the error does not say the name is taken:\n%s", res.Stderr)
	}
	// The same cluster under a second name.
	res = kubectl.Fail(t, "fed", "join", "eur2", "--context", hostCtx, "--cluster-context", "eur")
	if !strings.Contains(res.Stderr, `already a member of federation "magicring" as "eur"`) {
		t.Errorf("the error does not say the cluster is already a member:\n%s", res.Stderr)
	}
	assertHostHasNoCluster(t, "eur2")
}

// Done 2: a member of another federation is refused, and --force takes it
// over; the other federation's tokens stop working.
func TestAnotherFederation(t *testing.T) {
	ensureUnjoined(t, "jpn")
	kubectl.Succeed(t, "fed", "init", "other", "--context", hostCtx, "--domain", "other.example.com")
	t.Cleanup(func() {
		s := hostStore(t)
		_ = s.Federations.Delete(context.Background(), "other", metav1.DeleteOptions{})
	})
	kubectl.Succeed(t, "fed", "join", "jpn", "--context", hostCtx, "--federation", "other", "--cluster-context", "jpn")
	oldReader := identityConfig(t, "jpn", v1alpha1.IdentityDNSReader)

	// A second federation on the host: --federation is needed now.
	res := kubectl.Fail(t, "fed", "clusters", "--context", hostCtx)
	if !strings.Contains(res.Stderr, "several federations") || !strings.Contains(res.Stderr, "--federation") {
		t.Errorf("the error does not ask for --federation:\n%s", res.Stderr)
	}

	res = kubectl.Fail(t, "fed", "join", "jpn", "--context", hostCtx, "--federation", fedName, "--cluster-context", "jpn")
	if !strings.Contains(res.Stderr, `federation "other"`) || !strings.Contains(res.Stderr, "--force") {
		t.Errorf("the refusal does not name the other federation and --force:\n%s", res.Stderr)
	}
	// Refused means untouched.
	c, err := hostStore(t).Clusters.Get(t.Context(), "jpn", metav1.GetOptions{})
	if err != nil || c.Spec.Federation != "other" {
		t.Fatalf("after the refusal, cluster.kfed.dev/jpn is %v, %v; want it still in federation other", c, err)
	}

	res = kubectl.Succeed(t, "fed", "join", "jpn", "--context", hostCtx, "--federation", fedName, "--cluster-context", "jpn", "--force")
	if !strings.Contains(res.Stdout, "taken over") {
		t.Errorf("join --force does not say it took the cluster over: %q", res.Stdout)
	}
	c, err = hostStore(t).Clusters.Get(t.Context(), "jpn", metav1.GetOptions{})
	if err != nil || c.Spec.Federation != fedName {
		t.Fatalf("after the takeover, cluster.kfed.dev/jpn is %v, %v; want it in %s", c, err, fedName)
	}
	marker, err := testLab.Cluster("jpn").Client().CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), membership.MembershipConfigMap, metav1.GetOptions{})
	if err != nil || marker.Data["federation"] != fedName {
		t.Errorf("the member's membership says %v (%v), want federation %s", marker, err, fedName)
	}
	framework.Eventually(t, 30*time.Second, 500*time.Millisecond, "the other federation's token is refused", func(ctx context.Context) error {
		_, err := clientFor(t, oldReader).DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{Limit: 1})
		if !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("the other federation's reader token still gets %v", err)
		}
		return nil
	})
	checkJoined(t, "jpn")
	kubectl.Succeed(t, "fed", "clusters", "--context", hostCtx, "--federation", fedName)
}

// Done 3: a wrong context, or a member whose API server stops, gives a
// clear error and leaves nothing behind on either side.
func TestJoinFailureLeavesNothing(t *testing.T) {
	ensureJoined(t, "usa")
	ensureUnjoined(t, "jpn")
	jpn := testLab.Cluster("jpn")

	t.Run("wrong context", func(t *testing.T) {
		res := kubectl.Fail(t, "fed", "join", "ghost", "--context", hostCtx, "--federation", fedName, "--cluster-context", "no-such-context")
		if !strings.Contains(res.Stderr, `context "no-such-context" does not exist`) {
			t.Errorf("the error does not name the missing context:\n%s", res.Stderr)
		}
		assertHostHasNoCluster(t, "ghost")
	})

	t.Run("member stopped", func(t *testing.T) {
		stopAPIServer(t, jpn)
		res := kubectl.Fail(t, "fed", "join", "jpn", "--context", hostCtx, "--federation", fedName, "--cluster-context", "jpn")
		if !strings.Contains(res.Stderr, `cannot reach the member through context "jpn"`) || !strings.Contains(res.Stderr, "connection refused") {
			t.Errorf("the error does not say the member cannot be reached:\n%s", res.Stderr)
		}
		assertHostHasNoCluster(t, "jpn")
		startAPIServer(t, jpn)
		waitMemberClean(t, jpn)
	})

	t.Run("member stops during join", func(t *testing.T) {
		// The API server is stopped as soon as join's first identity
		// appears in the member, and started again two seconds later:
		// join must fail, undo its changes once the member is back, and
		// say so.
		for attempt := 1; ; attempt++ {
			res, raced := joinWhileStopping(t, jpn)
			if raced {
				if attempt == 3 {
					t.Fatalf("join finished before the API server could be stopped, %d times", attempt)
				}
				t.Logf("join won the race with the stop; unjoining and trying again")
				ensureUnjoined(t, "jpn")
				continue
			}
			if !strings.Contains(res.Stderr, "every change was rolled back") {
				t.Errorf("the error does not say the join was rolled back:\n%s", res.Stderr)
			}
			break
		}
		assertHostHasNoCluster(t, "jpn")
		waitMemberClean(t, jpn)
	})

	// Leave jpn joined, as the other tests expect.
	ensureJoined(t, "jpn")
}
