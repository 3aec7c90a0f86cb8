//go:build e2e

package delegation_test

// The file's name puts its test before install_test.go's, whose last test
// unjoins jpn.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/version"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// startupVersion matches the line in which coredns-fed names its version
// when it starts.
var startupVersion = regexp.MustCompile(`(?m)^coredns-fed-(\S+) \(CoreDNS \S+\)$`)

// TestServerPods checks what install's pods are, in every cluster: their
// logs, read as a user reads them, show the server's startup (the zones it
// serves on port 53, and the version of the image the pod runs), and each
// runs as user 65532 on a read-only root, without privileges to gain, as
// its securityContext asks and as the node applied it: the container's
// process on this machine is read in /proc.
func TestServerPods(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	setUp(t)
	for _, c := range testLab.Clusters {
		res := kubectl.Succeed(t, "logs", "-n", v1alpha1.Namespace, "deploy/coredns-fed", "--context", c.Name)
		for _, line := range []string{domain + ".:53", ".:53"} {
			if !strings.Contains("\n"+res.Stdout, "\n"+line+"\n") {
				t.Errorf("the logs of coredns-fed in %s have no startup line %q", c.Name, line)
			}
		}
		m := startupVersion.FindStringSubmatch(res.Stdout)
		if m == nil {
			t.Errorf("the logs of coredns-fed in %s name no version (%s)", c.Name, startupVersion)
			continue
		}
		for _, s := range corednsPods(t) {
			if s.cluster != c.Name {
				continue
			}
			if want := version.ImageRepository + ":" + version.ImageTag(m[1]); s.pod.Spec.Containers[0].Image != want {
				t.Errorf("the pod %s of %s runs %s, and coredns-fed logged its version %s: want the image %s", s.pod.Name, c.Name, s.pod.Spec.Containers[0].Image, m[1], want)
			}
		}
	}

	for _, s := range corednsPods(t) {
		t.Run(s.cluster+"/"+s.pod.Name, func(t *testing.T) { checkServerPod(t, s) })
	}
}

// checkServerPod checks one coredns-fed pod's security, as asked and as
// applied.
func checkServerPod(t *testing.T, s server) {
	spec := s.pod.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want coredns-fed alone", len(spec.Containers))
	}
	c := spec.Containers[0]
	uid := ptr.Deref(c.SecurityContext.RunAsUser, ptr.Deref(spec.SecurityContext.RunAsUser, 0))
	nonRoot := ptr.Deref(c.SecurityContext.RunAsNonRoot, ptr.Deref(spec.SecurityContext.RunAsNonRoot, false))
	if uid != 65532 || !nonRoot || !ptr.Deref(c.SecurityContext.ReadOnlyRootFilesystem, false) || ptr.Deref(c.SecurityContext.AllowPrivilegeEscalation, true) {
		t.Errorf("the pod asks for user %d, runAsNonRoot %v, a read-only root %v, privilege escalation %v; want 65532, true, true, false",
			uid, nonRoot, ptr.Deref(c.SecurityContext.ReadOnlyRootFilesystem, false), ptr.Deref(c.SecurityContext.AllowPrivilegeEscalation, true))
	}
	if len(s.pod.Status.ContainerStatuses) != 1 || s.pod.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("the container is not running: %+v", s.pod.Status.ContainerStatuses)
	}
	id := s.pod.Status.ContainerStatuses[0].ContainerID
	pid, err := containerPID(strings.TrimPrefix(id, "containerd://"))
	if err != nil {
		t.Fatalf("the process of container %s: %v", id, err)
	}

	status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Uid:\t65532\t65532\t65532\t65532\n",
		"Gid:\t65532\t65532\t65532\t65532\n",
		// allowPrivilegeEscalation: false.
		"NoNewPrivs:\t1\n",
		// Every capability dropped but NET_BIND_SERVICE (bit 10).
		"CapBnd:\t0000000000000400\n",
	} {
		if !strings.Contains(string(status), want) {
			t.Errorf("process %s of the pod: no %q in its status:\n%s", pid, strings.TrimSpace(want), status)
		}
	}
	mounts, err := os.ReadFile(filepath.Join("/proc", pid, "mountinfo"))
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	for line := range strings.Lines(string(mounts)) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...
		if f := strings.Fields(line); len(f) > 5 && f[4] == "/" {
			root = f[5]
		}
	}
	if !strings.HasPrefix(root+",", "ro,") {
		t.Errorf("process %s of the pod has its root mounted %q, want read-only", pid, root)
	}
	t.Logf("process %s: user and group 65532, no new privileges, bounding set NET_BIND_SERVICE, root mounted %s", pid, root)
}

// containerPID returns the process ID, on this machine, of the container
// whose runtime ID is id: the process in a cgroup named after it (the
// lab's kubelets use the cgroupfs driver, .../pod<UID>/<container ID>).
func containerPID(id string) (string, error) {
	if id == "" {
		return "", fmt.Errorf("the pod's status names no container ID")
	}
	cgroups, err := filepath.Glob("/proc/[0-9]*/cgroup")
	if err != nil {
		return "", err
	}
	var found []string
	for _, path := range cgroups {
		data, err := os.ReadFile(path)
		if err != nil {
			continue // the process has exited
		}
		if strings.Contains(string(data), "/"+id+"\n") {
			found = append(found, filepath.Base(filepath.Dir(path)))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d processes in the cgroup of container %s, want its one: %v", len(found), id, found)
	}
	return found[0], nil
}
