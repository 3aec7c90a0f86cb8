//go:build e2e

package lab

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestRealNode starts a lab cluster with one real node, runs a pod on it
// that reaches the API server through the `kubernetes` Service, reads the
// pod's log through the API server, runs the sample app behind the load
// balancer (checkLoadBalancerDataPath), stops the lab and checks that the
// machine is as it was: mounts, cgroups, nftables, kernel settings, links
// and machine-wide directories.
func TestRealNode(t *testing.T) {
	if err := RealNodesUnsupported(""); err != nil {
		t.Skipf("skipping: %v", err)
	}
	before := snapshotHost(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	begin := time.Now()
	l, err := Start(ctx, Options{
		Dir:      t.TempDir(),
		Clusters: []ClusterSpec{{Name: "real", Region: "us-east-1", Zone: "us-east-1a", Nodes: 1, RealNodes: 1}},
		Log:      testWriter{t},
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			l.Stop()
		}
	}()
	t.Logf("lab with one real node Ready in %s", time.Since(begin).Round(100*time.Millisecond))
	c := l.Clusters[0]

	probe := filepath.Join(t.TempDir(), "apiprobe")
	build := exec.Command("go", "build", "-trimpath", "-o", probe, "./testdata/apiprobe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the probe: %v: %s", err, out)
	}
	const ref = "kfed.dev/lab/apiprobe:test"
	tarPath := filepath.Join(t.TempDir(), "apiprobe.tar")
	if err := WriteImage(probe, ref, tarPath); err != nil {
		t.Fatal(err)
	}
	if err := c.ImportImage(ctx, tarPath); err != nil {
		t.Fatal(err)
	}

	client := c.Client()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "apiprobe", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{LabelRealNode: "true"},
			Containers: []corev1.Container{{
				Name: "probe", Image: ref, ImagePullPolicy: corev1.PullNever,
			}},
		},
	}
	created := time.Now()
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var running *corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "apiprobe", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		running = p
		return p.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		t.Fatalf("pod not Running: %v; status %+v", err, running.Status)
	}
	t.Logf("pod Running %s after creation, on %s with IP %s", time.Since(created).Round(10*time.Millisecond), running.Spec.NodeName, running.Status.PodIP)

	var logs string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		b, err := client.CoreV1().Pods("default").GetLogs("apiprobe", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			logs = err.Error()
			return false, nil
		}
		logs = string(b)
		return strings.Contains(logs, "apiserver ok"), nil
	})
	if err != nil {
		t.Fatalf("the pod did not reach the API server through the kubernetes Service: %v; its log: %s", err, logs)
	}
	t.Logf("pod log, read through the API server: %s", strings.TrimSpace(logs))

	// exec goes from the API server to the kubelet on the node's address,
	// and from the kubelet to containerd's stream server.
	exec := exec.CommandContext(ctx, filepath.Join(l.Bin, "kubectl"), "--kubeconfig", l.Kubeconfig, "--context", c.Name,
		"exec", "apiprobe", "--", "/apiprobe", "once")
	if out, err := exec.CombinedOutput(); err != nil || !strings.Contains(string(out), "apiserver ok") {
		t.Errorf("kubectl exec: %v: %s", err, out)
	} else {
		t.Logf("kubectl exec works")
	}

	checkLoadBalancerDataPath(ctx, t, c)

	for _, ps := range c.Status().Processes {
		if strings.Contains(ps.Name, "-real-") {
			t.Logf("%s: %d MB resident", ps.Name, ps.RSS>>20)
		}
	}

	if err := l.Stop(); err != nil {
		t.Errorf("stopping the lab: %v", err)
	}
	stopped = true
	after := snapshotHost(t)
	for _, k := range sortedKeys(before) {
		if before[k] != after[k] {
			t.Errorf("%s differs after the lab stopped:\nbefore:\n%s\nafter:\n%s", k, before[k], after[k])
		} else {
			t.Logf("%s: as before (%d lines)", k, len(strings.Fields(strings.ReplaceAll(after[k], " ", "_"))))
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// snapshotHost describes what real nodes could leave changed on the
// machine, one text per aspect.
func snapshotHost(t *testing.T) map[string]string {
	t.Helper()
	s := map[string]string{}
	points, err := mountPoints()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(points)
	s["mounts"] = strings.Join(points, "\n")

	hs, err := cgroupHierarchies()
	if err != nil {
		t.Fatal(err)
	}
	var cgroups []string
	for _, h := range hs {
		filepath.WalkDir(h, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			// process_api holds the cgroups of whatever else runs on the
			// machine meanwhile.
			if d.Name() == "process_api" {
				return filepath.SkipDir
			}
			cgroups = append(cgroups, p)
			return nil
		})
	}
	s["cgroups"] = strings.Join(cgroups, "\n")

	s["nft list tables"] = run(t, "nft", "list", "tables")
	s["ip link"] = linkNames(t)
	// Every route of every table: the load-balancer pool's local route, the
	// bridges' subnets.
	s["ip route"] = run(t, "ip", "route", "show", "table", "all")

	sys, err := readSysctls(hostSysctls)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, k := range sortedKeys(sys) {
		lines = append(lines, k+"="+sys[k])
	}
	s["sysctls"] = strings.Join(lines, "\n")

	var dirs []string
	for _, d := range append(machineDirs, "/var/log/pods", "/var/lib/kubelet", "/var/lib/containerd", "/opt/containerd", "/etc/cni", "/var/run/netns") {
		entries, err := os.ReadDir(d)
		if err != nil {
			dirs = append(dirs, d+": absent")
			continue
		}
		dirs = append(dirs, fmt.Sprintf("%s: %d entries", d, len(entries)))
	}
	s["machine-wide directories"] = strings.Join(dirs, "\n")
	return s
}

func linkNames(t *testing.T) string {
	out := run(t, "ip", "-o", "link", "show")
	var names []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 1 {
			names = append(names, strings.TrimSuffix(f[1], ":"))
		}
	}
	return strings.Join(names, "\n")
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return string(out)
}

func sortedKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
