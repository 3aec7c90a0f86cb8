//go:build e2e

package lab_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/lab"
)

// TestCommandLine drives a lab of its own through the kfed-lab command, as a
// user of `make lab-up` would: up with custom clusters, status, both faults,
// and down, after which no process of the lab may be left.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	kfedLab := func(args ...string) (string, error) {
		cmd := exec.Command("kfed-lab", append([]string{"--dir", dir}, args...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := kfedLab("up", "--clusters", "solo=us-west-2/us-west-2b", "--nodes", "2")
	if err != nil {
		t.Fatalf("kfed-lab up: %v\n%s", err, out)
	}
	t.Cleanup(func() { kfedLab("down") })
	if !strings.Contains(out, "export KUBECONFIG="+filepath.Join(dir, "kubeconfig")) {
		t.Errorf("up does not say how to use the lab:\n%s", out)
	}
	if out, err := kfedLab("up"); err == nil || !strings.Contains(out, "already running") {
		t.Errorf("a second up in the same directory: err=%v, output:\n%s", err, out)
	}

	out, err = kfedLab("status", "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var status []lab.ClusterStatus
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if len(status) != 1 || status[0].Name != "solo" || status[0].Region != "us-west-2" || status[0].Zone != "us-west-2b" {
		t.Fatalf("status: %+v, want one cluster solo in us-west-2/us-west-2b", status)
	}
	var pids []int
	for _, p := range status[0].Processes {
		if p.PID == 0 || p.RSS == 0 {
			t.Errorf("process %s: pid %d, rss %d; want it running", p.Name, p.PID, p.RSS)
		}
		pids = append(pids, p.PID)
	}
	if len(pids) != 5 {
		t.Errorf("%d processes, want etcd, API server, controller manager, scheduler and kwok", len(pids))
	}

	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: filepath.Join(dir, "kubeconfig")},
		&clientcmd.ConfigOverrides{CurrentContext: "solo"}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: lab.LabelZone + "=us-west-2b"})
	if err != nil || len(nodes.Items) != 2 {
		t.Fatalf("nodes in us-west-2b: %v, err %v; want 2", nodes, err)
	}

	// A Service with a hand-made ready endpoint: the load balancer needs
	// nothing more than the EndpointSlice to serve.
	addr := serviceWithEndpoint(t, client, "default", "cli")
	url := fmt.Sprintf("http://%s:9090/", addr)
	poll(t, 30*time.Second, "an answer from "+url, func() (bool, error) {
		_, err := get(url)
		return err == nil, nil
	})
	if out, err := kfedLab("lb", "down", addr.String()); err != nil {
		t.Fatalf("lb down: %v\n%s", err, out)
	}
	if _, err := get(url); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after lb down: %v, want connection refused", err)
	}
	if out, err := kfedLab("lb", "up", addr.String()); err != nil {
		t.Fatalf("lb up: %v\n%s", err, out)
	}
	poll(t, 10*time.Second, "an answer after lb up", func() (bool, error) {
		_, err := get(url)
		return err == nil, nil
	})
	if out, err := kfedLab("lb", "down", "127.0.0.9"); err == nil {
		t.Errorf("lb down of an unknown address succeeded:\n%s", out)
	}

	if out, err := kfedLab("apiserver", "stop", "solo"); err != nil {
		t.Fatalf("apiserver stop: %v\n%s", err, out)
	}
	if _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("API server stopped: %v, want connection refused", err)
	}
	if out, err := kfedLab("apiserver", "start", "solo"); err != nil {
		t.Fatalf("apiserver start: %v\n%s", err, out)
	}
	if _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("API server started again: %v", err)
	}
	// Frozen, the API server accepts connections and answers nothing.
	if out, err := kfedLab("apiserver", "freeze", "solo"); err != nil || !strings.Contains(out, "frozen") {
		t.Fatalf("apiserver freeze: %v\n%s", err, out)
	}
	if out, err := kfedLab("status"); err != nil || !strings.Contains(out, "solo/kube-apiserver is frozen") {
		t.Errorf("status of a frozen API server: %v\n%s", err, out)
	}
	short := rest.CopyConfig(cfg)
	short.Timeout = 2 * time.Second
	// SIGSTOP reaches every thread of the API server at once on a quiet
	// machine; on a loaded one, a request may still slip through, so a
	// second try is allowed before the freeze counts as not working.
	var frozenErr error
	for range 2 {
		if _, frozenErr = kubernetes.NewForConfigOrDie(short).CoreV1().Nodes().List(ctx, metav1.ListOptions{}); frozenErr != nil {
			break
		}
	}
	if frozenErr == nil || errors.Is(frozenErr, syscall.ECONNREFUSED) {
		t.Errorf("API server frozen: %v, want a timeout", frozenErr)
	}
	if out, err := kfedLab("apiserver", "thaw", "solo"); err != nil {
		t.Fatalf("apiserver thaw: %v\n%s", err, out)
	}
	if _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("API server thawed: %v", err)
	}
	if out, err := kfedLab("apiserver", "stop", "nosuch"); err == nil || !strings.Contains(out, "nosuch") {
		t.Errorf("apiserver stop of an unknown cluster: err=%v\n%s", err, out)
	}

	// The restarted API server has a new PID; down must stop it too.
	out, err = kfedLab("status", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(out), &status)
	pids = pids[:0]
	for _, p := range status[0].Processes {
		pids = append(pids, p.PID)
	}
	sup := supervisorPID(t, dir)
	if out, err := kfedLab("down"); err != nil || !strings.Contains(out, "stopped") {
		t.Fatalf("down: %v\n%s", err, out)
	}
	for _, pid := range append(pids, sup) {
		if alive(pid) {
			t.Errorf("pid %d is still running after down", pid)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "control.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left after down: %v", err)
	}
	if out, err := kfedLab("down"); err != nil || !strings.Contains(out, "no lab was running") {
		t.Errorf("down with no lab: %v\n%s", err, out)
	}
}

// TestMinimalLabsSideBySide starts two minimal labs at once, next to the
// shared one: ports and load-balancer pools must not collide, and minimal
// clusters run only etcd and an API server.
func TestMinimalLabsSideBySide(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var labs []*lab.Lab
	for i := 0; i < 2; i++ {
		specs := []lab.ClusterSpec{{Name: "m1"}, {Name: "m2"}}
		l, err := lab.Start(ctx, lab.Options{Dir: t.TempDir(), Clusters: specs, Minimal: true})
		if err != nil {
			t.Fatalf("minimal lab %d: %v", i, err)
		}
		t.Cleanup(func() { l.Stop() })
		labs = append(labs, l)
	}
	servers := map[string]bool{}
	pools := map[string]bool{}
	for _, l := range append(labs, shared) {
		for _, c := range l.Clusters {
			if servers[c.Server] || pools[c.LoadBalancerPool.String()] {
				t.Errorf("cluster %s reuses server %s or pool %s", c.Name, c.Server, c.LoadBalancerPool)
			}
			servers[c.Server], pools[c.LoadBalancerPool.String()] = true, true
		}
	}
	for _, l := range labs {
		for _, c := range l.Clusters {
			st := c.Status()
			if len(st.Processes) != 2 {
				t.Errorf("minimal cluster %s runs %d programs, want etcd and an API server", c.Name, len(st.Processes))
			}
			if _, err := c.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "works"}}, metav1.CreateOptions{}); err != nil {
				t.Errorf("minimal cluster %s: %v", c.Name, err)
			}
		}
	}
	// Stopping a lab stops its processes, by PID.
	var pids []int
	for _, c := range labs[0].Clusters {
		for _, p := range c.Status().Processes {
			pids = append(pids, p.PID)
		}
	}
	if err := labs[0].Stop(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("pid %d still runs after Stop", pid)
		}
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts lab.Options
		want string
	}{
		{"no dir", lab.Options{}, "Dir is required"},
		{"bad name", lab.Options{Dir: t.TempDir(), Clusters: []lab.ClusterSpec{{Name: "Bad_Name", Region: "r", Zone: "z"}}}, "not a DNS label"},
		{"twice", lab.Options{Dir: t.TempDir(), Clusters: []lab.ClusterSpec{{Name: "a", Region: "r", Zone: "z"}, {Name: "a", Region: "r", Zone: "z"}}}, "given twice"},
		{"no zone", lab.Options{Dir: t.TempDir(), Clusters: []lab.ClusterSpec{{Name: "a", Region: "r"}}}, "needs a region and a zone"},
		{"no programs", lab.Options{Dir: t.TempDir(), BinDir: t.TempDir()}, "make lab-bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := lab.Start(context.Background(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// serviceWithEndpoint creates a LoadBalancer Service on port 9090 and an
// EndpointSlice with one ready endpoint for it, and returns its address.
func serviceWithEndpoint(t *testing.T, client kubernetes.Interface, ns, name string) netip.Addr {
	t.Helper()
	ctx := context.Background()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Port: 9090}},
		},
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.1.2.3"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: name + "-pod"},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](9090)}},
	}
	if _, err := client.DiscoveryV1().EndpointSlices(ns).Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var addr netip.Addr
	poll(t, 30*time.Second, "an address for "+name, func() (bool, error) {
		s, err := client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		addr, err = netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP)
		return err == nil, err
	})
	return addr
}

func supervisorPID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.PID == 0 {
		t.Fatalf("state.json: %v %s", err, b)
	}
	return st.PID
}

// alive reports whether pid runs; a zombie awaiting its parent counts as gone.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(b))
	return len(fields) > 2 && fields[2] != "Z"
}
