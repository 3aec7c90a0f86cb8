//go:build e2e

// What the host's credentials for a member do: the DNS reader's may only
// read, clusters probes the members with them and reports one it cannot
// reach, and --rotate replaces them. These tests were federation_test.go's
// after its joins, and still run after them: the file sorts right after it.

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
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

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
