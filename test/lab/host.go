package lab

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// This file holds what real nodes change on the machine outside the lab's
// directory, and how the lab puts each thing back: kernel settings, cgroups,
// mounts and network links.

// hostSysctls are the kernel settings a kubelet sets at start
// (vm.overcommit_memory, kernel.panic, kernel.panic_on_oops) and the one a
// CNI gateway would (net.ipv4.ip_forward, which the lab's CNI configuration
// does not ask for; it is recorded in case).
var hostSysctls = []string{"vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward"}

// sysctls maps a key under /proc/sys to its value.
type sysctls map[string]string

// readSysctls reads the given keys under /proc/sys.
func readSysctls(keys []string) (sysctls, error) {
	s := sysctls{}
	for _, k := range keys {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err != nil {
			return nil, fmt.Errorf("reading sysctl %s: %w", k, err)
		}
		s[k] = strings.TrimSpace(string(b))
	}
	return s, nil
}

// restore writes back every recorded value that differs now.
func (s sysctls) restore() error {
	var errs []error
	for k, want := range s {
		b, err := os.ReadFile(filepath.Join("/proc/sys", k))
		if err == nil && strings.TrimSpace(string(b)) == want {
			continue
		}
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(want), 0o644); err != nil {
			errs = append(errs, fmt.Errorf("restoring sysctl %s to %s: %w", k, want, err))
		}
	}
	return errors.Join(errs...)
}

// mountPoints returns the mount points of this mount namespace, decoded
// from /proc/self/mountinfo, in its order.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 4 {
			points = append(points, unescapeMount(fields[4]))
		}
	}
	return points, s.Err()
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder lazily unmounts every mount at or below dir, deepest first,
// until none is left: the kubelet's bind mount of its root directory, pods'
// volumes, containerd's root filesystems, shm and network namespaces.
func unmountUnder(dir string) error {
	for round := 0; round < 5; round++ {
		points, err := mountPoints()
		if err != nil {
			return err
		}
		var mine []string
		for _, p := range points {
			if p == dir || strings.HasPrefix(p, dir+"/") {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			return nil
		}
		sort.Slice(mine, func(i, j int) bool { return len(mine[i]) > len(mine[j]) })
		for _, p := range mine {
			if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("unmounting %s: %w", p, err)
			}
		}
	}
	return fmt.Errorf("mounts under %s remain after 5 rounds of unmounting", dir)
}

// cgroupHierarchies returns the mount points of the machine's cgroup
// hierarchies: one per controller on cgroup v1, and the unified one.
func cgroupHierarchies() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		// The filesystem type follows the " - " separator.
		pre, post, ok := strings.Cut(s.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 {
			continue
		}
		if fs := strings.Fields(post); len(fs) > 0 && (fs[0] == "cgroup" || fs[0] == "cgroup2") {
			dirs = append(dirs, unescapeMount(fields[4]))
		}
	}
	return dirs, s.Err()
}

// createCgroupRoot creates the cgroup root of a real node's kubelet in every
// hierarchy. A new cpuset cgroup starts with no CPUs and no memory nodes, so
// it gets its parent's.
func createCgroupRoot(root string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	for _, h := range hs {
		parent := h
		for _, part := range strings.Split(strings.Trim(root, "/"), "/") {
			dir := filepath.Join(parent, part)
			if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("creating cgroup %s: %w", dir, err)
			}
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				if v, err := os.ReadFile(filepath.Join(parent, f)); err == nil {
					if cur, _ := os.ReadFile(filepath.Join(dir, f)); strings.TrimSpace(string(cur)) == "" {
						os.WriteFile(filepath.Join(dir, f), v, 0o644)
					}
				}
			}
			parent = dir
		}
	}
	return nil
}

// removeCgroupRoot kills every process left in the cgroup root, in every
// hierarchy (containers outlive their shims), and removes the cgroups,
// deepest first, then the root's parents while they are empty: a root such
// as /kfed-lab/node-1 leaves /kfed-lab while other nodes use it.
func removeCgroupRoot(root string) error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var errs []error
	for _, h := range hs {
		top := filepath.Join(h, root)
		if _, err := os.Stat(top); err != nil {
			continue
		}
		var dirs []string
		filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
		for _, d := range dirs {
			if err := killAndRemoveCgroup(d); err != nil {
				errs = append(errs, err)
			}
		}
		removeDirIfEmpty(filepath.Dir(top), h)
	}
	return errors.Join(errs...)
}

// killAndRemoveCgroup sends SIGKILL to the processes of one cgroup until it
// is empty, then removes it.
func killAndRemoveCgroup(dir string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(procs)) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ip runs the ip(8) command.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// linkExists reports whether a network link of that name exists.
func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// removeDirIfEmpty removes dir and then its parents up to stop, while each is
// empty: for machine-wide directories that containerd or the kubelet create
// (/run/containerd/s, /var/log/containers) and that were not there before.
func removeDirIfEmpty(dir, stop string) {
	for d := dir; d != stop && d != "/" && d != "."; d = filepath.Dir(d) {
		if os.Remove(d) != nil {
			return
		}
	}
}

// hostRecord is what a lab with real nodes records of the machine before
// they start, so that Stop can put it back: the kernel settings kubelets
// change, and which of the machine-wide directories containerd, CNI and the
// kubelet create existed.
type hostRecord struct {
	Sysctls sysctls `json:"sysctls"`
	// Absent are machine-wide directories that did not exist before.
	Absent []string `json:"absent"`
	// Nodes are the real nodes, for a cleanup after a crash.
	Nodes []nodeRecord `json:"nodes"`
	// LocalRoutes are the load-balancer pools of clusters with real nodes,
	// routed to the machine itself (addLocalRoute).
	LocalRoutes []netip.Prefix `json:"localRoutes,omitempty"`
}

// nodeRecord is what a cleanup needs of a real node whose lab crashed.
type nodeRecord struct {
	Dir        string `json:"dir"`
	Socket     string `json:"socket"`
	CgroupRoot string `json:"cgroupRoot"`
	Bridge     string `json:"bridge"`
}

// machineDirs are created outside the lab's directory whatever their
// configuration says: containerd 1.6 puts its shims' sockets under
// /run/containerd/s, libcni caches results under /var/lib/cni, and the
// kubelet links container logs from /var/log/containers.
// The kubelet's device manager listens in /var/lib/kubelet/device-plugins
// whatever its root directory.
var machineDirs = []string{"/run/containerd/s", "/run/containerd", "/var/lib/cni/results", "/var/lib/cni",
	"/var/log/containers", "/var/lib/kubelet/device-plugins", "/var/lib/kubelet"}

// recordHost records the machine as it was before the real nodes of the
// labs running now changed it: the first such lab reads it and leaves the
// record in the shared directory, the others take it from there (see
// hostshare.go).
func recordHost() (*hostRecord, error) {
	h := &hostRecord{}
	err := withHostLock(func() error {
		if found, err := readSharedRecord(h); err != nil || found {
			return err
		}
		s, err := readSysctls(hostSysctls)
		if err != nil {
			return err
		}
		h.Sysctls = s
		for _, d := range machineDirs {
			if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
				h.Absent = append(h.Absent, d)
			}
		}
		return writeSharedRecord(h)
	})
	return h, err
}

// restore writes back the kernel settings and removes the machine-wide
// directories that were absent, if they are empty now: entries left in
// them belong to someone else, or say what a node failed to clean up. It
// does so only when no other lab's real nodes run: the last lab to stop
// puts the machine back.
func (h *hostRecord) restore() error {
	return withHostLock(func() error {
		if othersActive() {
			return nil
		}
		err := h.Sysctls.restore()
		for _, d := range h.Absent {
			if d == "/var/lib/kubelet/device-plugins" {
				os.Remove(filepath.Join(d, "kubelet.sock"))
			}
			os.Remove(d)
		}
		if err == nil {
			removeSharedRecord()
		}
		return err
	})
}
