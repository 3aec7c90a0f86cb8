package lab

// What a real node leaves on the machine outside its directory: finding
// and removing it, for stop and for CleanupRealNodes (cleanup.go).

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// processesMentioning returns the PIDs of processes whose command line
// contains s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// containerIDs lists the IDs of the node's containers, pod sandboxes
// included.
func (n *realNode) containerIDs() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", "--address", n.socket(), "--namespace", "k8s.io", "containers", "list", "--quiet").Output()
	if err != nil {
		return nil, fmt.Errorf("listing containers of %s: %w", n.name, err)
	}
	return strings.Fields(string(out)), nil
}

// taskIDs lists the containers that have, or had until a crash, a task in
// containerd's state directory: these are the ones whose shims may have
// been killed.
func (n *realNode) taskIDs() []string {
	entries, _ := os.ReadDir(filepath.Join(n.dir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io"))
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// removeMachineFiles removes what the node's containers left outside its
// directory, where containerd 1.6, libcni and the kubelet put files
// whatever their configuration says: a killed shim's socket in
// /run/containerd/s (named by the SHA-256 of containerd's address, the
// namespace and the container ID), CNI results cached in
// /var/lib/cni/results for sandboxes never stopped, and the kubelet's links
// in /var/log/containers to the node's container logs.
func (n *realNode) removeMachineFiles(socket string, ids []string) error {
	var errs []error
	remove := func(p string) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	results, _ := os.ReadDir("/var/lib/cni/results")
	for _, id := range ids {
		sum := sha256.Sum256([]byte(socket + "/k8s.io/" + id))
		remove(filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
		for _, r := range results {
			if strings.Contains(r.Name(), "-"+id+"-") {
				remove(filepath.Join("/var/lib/cni/results", r.Name()))
			}
		}
	}
	links, _ := os.ReadDir("/var/log/containers")
	for _, l := range links {
		p := filepath.Join("/var/log/containers", l.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, n.dir+"/") {
			remove(p)
		}
	}
	return errors.Join(errs...)
}
