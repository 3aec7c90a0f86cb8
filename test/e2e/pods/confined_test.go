//go:build e2e

package pods_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestPodsRunConfined reads, from the machine's /proc, the coredns-fed
// processes of the pods that deploy/'s manifests made: the kernel's view of
// what the securityContext asked for, not the API's.
func TestPodsRunConfined(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	pods := readyPods(t)
	if len(pods) == 0 {
		t.Fatal("no Ready coredns-fed pod")
	}
	for _, pod := range pods {
		pids := podProcesses(t, pod, "coredns-fed")
		if len(pids) != 1 {
			t.Errorf("pod %s: %d coredns-fed processes on the machine, want 1", pod.Name, len(pids))
			continue
		}
		pid := pids[0]
		status := procStatus(t, pid)
		for field, want := range map[string]string{
			// real, effective, saved and filesystem IDs
			"Uid":        "65532\t65532\t65532\t65532",
			"Gid":        "65532\t65532\t65532\t65532",
			"NoNewPrivs": "1",
			// No capability is effective or permitted: NET_BIND_SERVICE
			// is not granted to a non-root process by containerd, and the
			// sysctl opens port 53 instead.
			"CapEff": "0000000000000000",
			"CapPrm": "0000000000000000",
			// seccomp mode 2: a filter, RuntimeDefault's.
			"Seccomp": "2",
		} {
			if got := status[field]; got != want {
				t.Errorf("pod %s (pid %d): %s is %q, want %q", pod.Name, pid, field, got, want)
			}
		}
		if opts := rootMountOptions(t, pid); !strings.HasPrefix(opts, "ro,") && opts != "ro" {
			t.Errorf("pod %s (pid %d): its root is mounted %q, want read-only", pod.Name, pid, opts)
		}
	}
}

// podProcesses returns the machine's processes named comm that run in the
// pod: its cgroup path names the pod's UID.
func podProcesses(t *testing.T, pod corev1.Pod, comm string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	// The cgroupfs driver names a pod's cgroup pod<UID>.
	mark := "/pod" + string(pod.UID) + "/"
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		name, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(name)) != comm {
			continue
		}
		cgroup, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if err == nil && strings.Contains(string(cgroup), mark) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procStatus returns the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = strings.TrimSpace(v)
		}
	}
	return fields
}

// rootMountOptions returns the mount options of the process's root, as
// its own mount namespace shows them.
func rootMountOptions(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// ID parent major:minor root mountpoint options ...
		f := strings.Fields(line)
		if len(f) > 5 && f[4] == "/" {
			return f[5]
		}
	}
	t.Fatalf("pid %d: no mount at / in its mountinfo", pid)
	return ""
}
