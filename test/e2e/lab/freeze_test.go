//go:build e2e

package lab_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/lab"
)

// TestFreezeAPIServer checks the hung-control-plane fault: a frozen API
// server accepts TCP connections and answers nothing, so clients time out
// instead of being refused; thawed, it answers again on the connections
// clients held; and a lab stopped while one of its API servers is frozen
// stops at once, leaving no process behind.
func TestFreezeAPIServer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Clusters: []lab.ClusterSpec{{Name: "ice"}}, Minimal: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	c := l.Cluster("ice")
	cfg := c.RESTConfig()
	cfg.Timeout = 2 * time.Second
	client := kubernetes.NewForConfigOrDie(cfg)
	// A connection opened before the freeze, as a long-running client holds.
	if _, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}

	if err := c.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	if !c.APIServerFrozen() || !c.APIServerRunning() {
		t.Errorf("after freeze: frozen=%v running=%v, want both", c.APIServerFrozen(), c.APIServerRunning())
	}
	begin := time.Now()
	_, err = client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err == nil || errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("request to a frozen API server: %v, want a timeout", err)
	}
	if took := time.Since(begin); took < 1500*time.Millisecond || took > 5*time.Second {
		t.Errorf("request to a frozen API server gave up after %s, want about its 2s timeout", took)
	}
	// The kernel still completes the handshake; TLS then gets no answer.
	u, _ := url.Parse(c.Server)
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Errorf("TCP connect to a frozen API server: %v, want it accepted", err)
	} else {
		conn.SetDeadline(time.Now().Add(time.Second))
		if err := tls.Client(conn, &tls.Config{InsecureSkipVerify: true}).Handshake(); err == nil {
			t.Errorf("TLS handshake with a frozen API server succeeded")
		}
		conn.Close()
	}
	for _, p := range c.Status().Processes {
		if p.Name == "ice/kube-apiserver" && !p.Frozen {
			t.Errorf("status of %s: not frozen", p.Name)
		}
	}

	if err := c.ThawAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("after thaw: %v", err)
	}
	if c.APIServerFrozen() {
		t.Errorf("still frozen after thaw")
	}

	// Stop with the API server frozen: it must not wait out the grace
	// period with SIGTERM pending.
	if err := c.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range c.Status().Processes {
		pids = append(pids, p.PID)
	}
	begin = time.Now()
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took > 8*time.Second {
		t.Errorf("stopping a lab with a frozen API server took %s", took)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still runs after Stop", pid)
		}
	}
}

// TestFreezeControlPlane checks that freezing a cluster's control plane
// stops every program of it, so that requests wait, and that thawing it
// leaves the API server answering, with what it held before.
func TestFreezeControlPlane(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Clusters: []lab.ClusterSpec{{Name: "cold"}}, Minimal: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	c := l.Cluster("cold")
	cfg := c.RESTConfig()
	cfg.Timeout = time.Second
	client := kubernetes.NewForConfigOrDie(cfg)
	before, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}

	if err := c.FreezeControlPlane(); err != nil {
		t.Fatal(err)
	}
	procs := c.Status().Processes
	if len(procs) < 2 {
		t.Fatalf("status lists %d processes, want etcd and the API server at least", len(procs))
	}
	for _, p := range procs {
		if !p.Frozen {
			t.Errorf("after FreezeControlPlane, %s is not frozen", p.Name)
		}
	}
	if _, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
		t.Errorf("a frozen control plane answered a request")
	}

	if err := c.ThawControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range c.Status().Processes {
		if p.Frozen {
			t.Errorf("after ThawControlPlane, %s is still frozen", p.Name)
		}
	}
	after, err := client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("after thaw: %v", err)
	}
	if len(after.Items) != len(before.Items) {
		t.Errorf("after thaw, %d namespaces, before the freeze %d", len(after.Items), len(before.Items))
	}
}
