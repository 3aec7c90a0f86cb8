//go:build e2e

package delegation_test

// The file's name puts its test before install_test.go's, whose last test
// unjoins jpn.

import (
	"regexp"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/version"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// startupVersion matches the line in which coredns-fed names its version
// (and CoreDNS's, and its build date) when it starts.
var startupVersion = regexp.MustCompile(`(?m)^coredns-fed-(\S+) \(CoreDNS \S+, built \S+\)$`)

// TestServerPods checks what install's pods are, in every cluster: their
// logs, read as a user reads them, show the server's startup (the zones it
// serves on port 53, and the version of the image the pod runs), and each
// pod's one container runs, Ready, as user 65532 on a read-only root
// without privileges to gain, as its securityContext asks. How the kernel
// runs those processes (their IDs, capabilities, seccomp and root mount in
// /proc) is test/e2e/pods' TestPodsRunConfined.
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

// checkServerPod checks one coredns-fed pod's security context and status.
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
	if st := s.pod.Status.ContainerStatuses[0]; !st.Ready || st.RestartCount != 0 {
		t.Errorf("the container is Ready %v after %d restarts, want Ready and none", st.Ready, st.RestartCount)
	}
}
