//go:build e2e

package federation

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

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

// Done 4: the DNS reader's token, read from the host's Secret, lists
// EndpointSlices in its member and gets 403 for Secrets and for any write.
func TestReaderTokenIsReadOnly(t *testing.T) {
	ensureJoined(t, "eur")
	reader := clientFor(t, identityConfig(t, "eur", v1alpha1.IdentityDNSReader))
	ctx := t.Context()

	if _, err := reader.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the reader cannot list EndpointSlices: %v", err)
	}
	for what, fn := range map[string]func() error{
		"list services": func() error { _, err := reader.CoreV1().Services("").List(ctx, metav1.ListOptions{}); return err },
		"watch endpointslices": func() error {
			w, err := reader.DiscoveryV1().EndpointSlices("default").Watch(ctx, metav1.ListOptions{})
			if err == nil {
				w.Stop()
			}
			return err
		},
	} {
		if err := fn(); err != nil {
			t.Errorf("the reader cannot %s: %v", what, err)
		}
	}

	_, err := reader.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	expectStatus(t, "list secrets", err, 403)
	_, err = reader.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	expectStatus(t, "list nodes", err, 403)
	_, err = reader.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	expectStatus(t, "list namespaces", err, 403)
	_, err = reader.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, "anything", metav1.GetOptions{})
	expectStatus(t, "get a secret", err, 403)
	_, err = reader.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{})
	expectStatus(t, "list configmaps", err, 403)
	_, err = reader.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	expectStatus(t, "create a configmap", err, 403)
	_, err = reader.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	expectStatus(t, "create a namespace", err, 403)
	_, err = reader.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	expectStatus(t, "create a service", err, 403)
	err = reader.CoreV1().Services("default").Delete(ctx, "kubernetes", metav1.DeleteOptions{})
	expectStatus(t, "delete a service", err, 403)
	_, err = reader.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "x"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
	}, metav1.CreateOptions{})
	expectStatus(t, "create a clusterrolebinding", err, 403)

	// The manager, by contrast, may write.
	manager := clientFor(t, identityConfig(t, "eur", v1alpha1.IdentityManager))
	if _, err := manager.CoreV1().Secrets(v1alpha1.Namespace).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the manager cannot list Secrets: %v", err)
	}
}

// Done 5: with one member's API server stopped, clusters returns within the
// timeout, that member NotReady with the reason, the others Ready. A member
// that accepts connections and never answers is held to the timeout too.
func TestClustersWithMemberDown(t *testing.T) {
	ensureJoined(t, "usa", "eur", "jpn")
	stopAPIServer(t, testLab.Cluster("eur"))

	// A member that never answers: a listener that accepts and stays mute.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 100)
	t.Cleanup(func() {
		mute.Close()
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := mute.Accept()
			if err != nil {
				return
			}
			select {
			case conns <- conn:
			default:
				conn.Close()
			}
		}
	}()
	addMuteMember(t, "mute", "https://"+mute.Addr().String())

	const timeout = 3 * time.Second
	res := kubectl.Succeed(t, "fed", "clusters", "--context", hostCtx, "--federation", fedName, "--timeout", timeout.String(), "-o", "wide")
	if res.Duration > timeout+5*time.Second {
		t.Errorf("clusters took %s with a timeout of %s", res.Duration, timeout)
	}
	rows := map[string][]string{}
	for _, row := range tableRows(t, res.Stdout)[1:] {
		rows[row[0]] = row
	}
	for _, name := range []string{"usa", "jpn"} {
		if row := rows[name]; len(row) < 2 || row[1] != "Ready" {
			t.Errorf("%s: %q, want Ready", name, row)
		}
	}
	for name, reason := range map[string]string{"eur": "(Unreachable)", "mute": "(Timeout)"} {
		row := rows[name]
		if len(row) < 3 || row[1] != "NotReady" || row[2] != reason {
			t.Errorf("%s: %q, want NotReady %s", name, row, reason)
		}
	}
	if !strings.Contains(res.Stdout, "connection refused") {
		t.Errorf("the wide output does not give eur's error")
	}

	// The probe is recorded: kubectl get shows eur not Ready.
	c, err := hostStore(t).Clusters.Get(t.Context(), "eur", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cond := c.Ready(); cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != v1alpha1.ReasonUnreachable {
		t.Errorf("cluster.kfed.dev/eur Ready condition = %+v, want False/Unreachable", cond)
	}

	startAPIServer(t, testLab.Cluster("eur"))
	deleteMuteMember(t, "mute")
	res = kubectl.Succeed(t, "fed", "clusters", "eur", "--context", hostCtx, "--federation", fedName)
	if row := tableRows(t, res.Stdout)[1]; row[1] != "Ready" {
		t.Errorf("after its restart eur is %q, want Ready", row)
	}
}

// Done 7: --rotate replaces the tokens, and the old ones get 401.
func TestRotate(t *testing.T) {
	ensureJoined(t, "eur")
	oldManager := identityConfig(t, "eur", v1alpha1.IdentityManager)
	oldReader := identityConfig(t, "eur", v1alpha1.IdentityDNSReader)
	for name, cfg := range map[string]*rest.Config{"manager": oldManager, "reader": oldReader} {
		if _, err := clientFor(t, cfg).DiscoveryV1().EndpointSlices("").List(t.Context(), metav1.ListOptions{Limit: 1}); err != nil {
			t.Fatalf("the %s token does not work before the rotation: %v", name, err)
		}
	}

	res := kubectl.Succeed(t, "fed", "join", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur", "--rotate")
	if strings.TrimSpace(res.Stdout) != "cluster.kfed.dev/eur tokens rotated" {
		t.Errorf("join --rotate says %q", res.Stdout)
	}
	newManager := identityConfig(t, "eur", v1alpha1.IdentityManager)
	newReader := identityConfig(t, "eur", v1alpha1.IdentityDNSReader)
	if newManager.BearerToken == oldManager.BearerToken || newReader.BearerToken == oldReader.BearerToken {
		t.Fatal("the host still holds an old token")
	}
	for name, cfg := range map[string]*rest.Config{"old manager": oldManager, "old reader": oldReader} {
		framework.Eventually(t, 30*time.Second, 500*time.Millisecond, "the "+name+" token gets 401", func(ctx context.Context) error {
			_, err := clientFor(t, cfg).DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{Limit: 1})
			if !apierrors.IsUnauthorized(err) {
				return fmt.Errorf("the %s token gets %v", name, err)
			}
			return nil
		})
		_, err := clientFor(t, cfg).DiscoveryV1().EndpointSlices("").List(t.Context(), metav1.ListOptions{Limit: 1})
		expectStatus(t, "the "+name+" token", err, 401)
	}
	for name, cfg := range map[string]*rest.Config{"new manager": newManager, "new reader": newReader} {
		if _, err := clientFor(t, cfg).DiscoveryV1().EndpointSlices("").List(t.Context(), metav1.ListOptions{Limit: 1}); err != nil {
			t.Errorf("the %s token does not work: %v", name, err)
		}
	}
	if n := len(tokenSecrets(t, testLab.Cluster("eur").Client())); n != 2 {
		t.Errorf("after the rotation eur has %d token Secrets, want 2", n)
	}
}

// Completion offers the host's members and the kubeconfig's contexts.
// kubectl hands completion of a plugin's arguments to the plugin (through
// a kubectl_complete-fed on PATH); this calls the plugin's completion
// directly, as that does.
