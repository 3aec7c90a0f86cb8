//go:build e2e

package security

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fedlock"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// hostileFederation is the lab's federation.
const hostileFederation = "magicring"

// hostileRun runs `kubectl fed ARGS --context usa` to its end, however
// long it takes, and returns its result, whatever its exit code.
func hostileRun(t *testing.T, args ...string) hostileResult {
	t.Helper()
	_, done := hostileStart(t, args...)
	res := <-done
	t.Logf("$ kubectl %s: exit %d after %s, peak RSS %.0f MiB", strings.Join(res.Args, " "), res.ExitCode, res.Duration.Round(time.Millisecond), res.PeakRSS)
	return res
}

// hostileManifest writes data to a file of the test's and returns its path.
func hostileManifest(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// hostileConfigMaps returns a manifest of the Namespace ns and n
// ConfigMaps in it, named prefix-0000 and on.
func hostileConfigMaps(ns, prefix string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%04d\n  namespace: %s\ndata:\n  i: %q\n", prefix, i, ns, fmt.Sprint(i))
	}
	return b.String()
}

// hostileInventory returns the federation's inventory in the host.
func hostileInventory(t *testing.T) *inventory.Inventory {
	t.Helper()
	s, err := store.New(testLab.Cluster(hostCtx).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New(s, hostileFederation)
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// hostileRecords returns the inventory's records of objects in namespace
// ns, and of the Namespace ns itself, by "kind/name".
func hostileRecords(t *testing.T, ns string) map[string]*v1alpha1.FederatedObject {
	t.Helper()
	entries, err := hostileInventory(t).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*v1alpha1.FederatedObject{}
	for _, e := range entries {
		k := e.Key()
		if k.Namespace == ns || (k.Kind == "Namespace" && k.Name == ns) {
			out[k.Kind+"/"+k.Name] = e.Record
		}
	}
	return out
}

// hostileRecordNames returns the names of every record in the host's
// kfed-system, of any federation.
func hostileRecordNames(t *testing.T) []string {
	t.Helper()
	entries, err := hostileInventory(t).List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Record.Name)
	}
	sort.Strings(names)
	return names
}

// hostileClient returns a client of a cluster of the lab whose requests
// give up after 10 seconds.
func hostileClient(cluster string) kubernetes.Interface {
	cfg := testLab.Cluster(cluster).RESTConfig()
	cfg.Timeout = 10 * time.Second
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfigOrDie(cfg)
}

// hostileHeld returns the names of the ConfigMaps a member holds in ns,
// those the API server makes in every namespace left out.
func hostileHeld(t *testing.T, cluster, ns string) map[string]bool {
	t.Helper()
	list, err := hostileClient(cluster).CoreV1().ConfigMaps(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("%s: listing the ConfigMaps of %s: %v", cluster, ns, err)
	}
	out := map[string]bool{}
	for _, cm := range list.Items {
		if cm.Name != "kube-root-ca.crt" {
			out[cm.Name] = true
		}
	}
	return out
}

// hostileNamespaceAbsent fails the test if any member holds namespace ns.
func hostileNamespaceAbsent(t *testing.T, ns string) {
	t.Helper()
	for _, m := range members {
		_, err := hostileClient(m).CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
		switch {
		case err == nil:
			t.Errorf("%s holds namespace %s: something was written", m, ns)
		case !apierrors.IsNotFound(err):
			t.Fatalf("%s: reading namespace %s: %v", m, ns, err)
		}
	}
}

// hostileNamespaceGone waits until no member holds namespace ns: one
// that a delete removed terminates while its objects go.
func hostileNamespaceGone(t *testing.T, ns string) {
	t.Helper()
	framework.Eventually(t, 2*time.Minute, time.Second, "namespace "+ns+" gone from every member", func(ctx context.Context) error {
		for _, m := range members {
			_, err := hostileClient(m).CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if err == nil {
				return fmt.Errorf("%s still holds it", m)
			}
			if !apierrors.IsNotFound(err) {
				return err
			}
		}
		return nil
	})
}

// hostileLockFree fails the test if the federation's lock is held.
func hostileLockFree(t *testing.T) {
	t.Helper()
	lease, err := hostileClient(hostCtx).CoordinationV1().Leases(v1alpha1.Namespace).Get(context.Background(), fedlock.Name(hostileFederation), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.Spec.HolderIdentity; h != nil && *h != "" {
		t.Errorf("the lock of %s is left held by %s", hostileFederation, *h)
	}
}

// hostileSettled checks that the inventory records every object of want
// (by "kind/name") once, in every member, written and not pending, and
// nothing else of namespace ns; and that every member holds exactly the
// ConfigMaps of want.
func hostileSettled(t *testing.T, ns string, want map[string]bool) {
	t.Helper()
	records := hostileRecords(t, ns)
	for key := range want {
		rec := records[key]
		if rec == nil {
			t.Errorf("%s is not recorded", key)
			continue
		}
		seen := map[string]int{}
		for _, c := range rec.Status.Clusters {
			seen[c.Name]++
			switch c.Action {
			case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
			default:
				t.Errorf("%s is recorded %s in %s: %s", key, c.Action, c.Name, c.Message)
			}
		}
		for _, m := range members {
			if seen[m] != 1 {
				t.Errorf("%s is recorded %d times in %s", key, seen[m], m)
			}
		}
	}
	for key := range records {
		if !want[key] {
			t.Errorf("%s is recorded, and is in no input", key)
		}
	}
	for _, m := range members {
		held := hostileHeld(t, m, ns)
		n := 0
		for key := range want {
			if name, ok := strings.CutPrefix(key, "ConfigMap/"); ok {
				n++
				if !held[name] {
					t.Errorf("%s does not hold %s", m, key)
				}
			}
		}
		if len(held) != n {
			t.Errorf("%s holds %d ConfigMaps in %s, want %d", m, len(held), ns, n)
		}
	}
}

// hostileKeys returns the "kind/name" keys of the Namespace ns and the
// ConfigMaps of hostileConfigMaps(ns, prefix, n).
func hostileKeys(want map[string]bool, ns, prefix string, n int) map[string]bool {
	if want == nil {
		want = map[string]bool{}
	}
	want["Namespace/"+ns] = true
	for i := range n {
		want[fmt.Sprintf("ConfigMap/%s-%04d", prefix, i)] = true
	}
	return want
}

// hostileCleanup deletes, when the test ends, whatever the inventory
// records in namespace ns, and the Namespace, and checks that the
// inventory is rid of them.
func hostileCleanup(t *testing.T, ns string) {
	t.Cleanup(func() {
		records := hostileRecords(t, ns)
		if len(records) == 0 {
			return
		}
		var b strings.Builder
		for key := range records {
			kind, name, _ := strings.Cut(key, "/")
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: %s\nmetadata: {name: %q, namespace: %s}\n", kind, name, ns)
		}
		if res := hostileRun(t, "delete", "-f", hostileManifest(t, b.String())); res.ExitCode != 0 {
			t.Errorf("cleaning up %s:\n%.3000s", ns, res)
		}
		if left := hostileRecords(t, ns); len(left) > 0 {
			t.Errorf("%d records of %s left after delete -f", len(left), ns)
		}
	})
}

// hostileResult is what one command did, and its peak resident memory.
type hostileResult struct {
	framework.Result
	// PeakRSS is in MiB: the plugin's, or kubectl's if it grew larger
	// before it exec'd the plugin; sampled (see hostileWatchMemory).
	PeakRSS float64
}

// hostileStart starts `kubectl fed ARGS --context usa` as a process of its
// own, with no time limit but the test's, for a test that measures or
// kills it: kubectl execs the plugin, so the process is kubectl-fed's.
func hostileStart(t *testing.T, args ...string) (*exec.Cmd, <-chan hostileResult) {
	t.Helper()
	full := append(append([]string{"fed"}, args...), "--context", hostCtx, "--kubeconfig", kubectl.Kubeconfig)
	cmd := exec.Command(kubectl.Path, full...)
	// Only the lab's kubeconfig counts, never the user's own.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubectl.Kubeconfig)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan hostileResult, 1)
	exited := make(chan struct{})
	peak := hostileWatchMemory(cmd.Process.Pid, exited)
	go func() {
		err := cmd.Wait()
		close(exited)
		res := hostileResult{Result: framework.Result{Args: full, Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(begin)}}
		var exitErr *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &exitErr):
			res.ExitCode = exitErr.ExitCode()
		default:
			res.ExitCode, res.Stderr = -1, res.Stderr+"\n"+err.Error()
		}
		res.PeakRSS = float64(<-peak) / 1024
		done <- res
	}()
	t.Cleanup(func() {
		// Reaped by the goroutine above; a process still running when the
		// test ends is killed.
		cmd.Process.Signal(syscall.SIGKILL)
	})
	return cmd, done
}

// hostileWatchMemory samples the peak resident memory (VmHWM, in KiB) of
// process pid until exited is closed, and then sends the largest seen.
// The kernel's own figure for a child that ended (getrusage's maxrss)
// will not do: it counts the memory of the test binary that started it.
// kubectl execs the plugin in the same process, and an exec starts VmHWM
// over, so the figure is the plugin's own.
func hostileWatchMemory(pid int, exited <-chan struct{}) <-chan int {
	out := make(chan int, 1)
	go func() {
		peak := 0
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for _, line := range strings.Split(string(data), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						if kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB")); err == nil && kb > peak {
							peak = kb
						}
					}
				}
			}
			select {
			case <-exited:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}
