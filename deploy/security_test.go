package deploy

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestCoreDNSFedPodSecurity pins the pod's security settings to those of
// CoreDNS's own Deployment (kubeadm's and the coredns/deployment chart's)
// or tighter: not root, a read-only root filesystem, no privilege
// escalation, every capability dropped but NET_BIND_SERVICE, and the
// runtime's default seccomp profile. The Pod Security Standards'
// "restricted" level asks for the same.
func TestCoreDNSFedPodSecurity(t *testing.T) {
	objs, err := CoreDNSFed()
	if err != nil {
		t.Fatal(err)
	}
	var d *appsv1.Deployment
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == "coredns-fed" {
			d = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, d); err != nil {
				t.Fatal(err)
			}
		}
	}
	if d == nil {
		t.Fatal("the base has no Deployment coredns-fed")
	}
	pod := d.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Error("the pod may run as root: set runAsNonRoot and a non-zero runAsUser")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("the pod's seccomp profile is not RuntimeDefault")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s mounts a host path", v.Name)
		}
	}
	if len(pod.Containers) == 0 {
		t.Fatal("the pod has no container")
	}
	for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", c.Name)
			continue
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s allows privilege escalation", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s has a writable root filesystem", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
			t.Errorf("container %s runs as root", c.Name)
		}
		caps := sc.Capabilities
		if caps == nil || !slices.Equal(caps.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("container %s does not drop every capability", c.Name)
		}
		if caps != nil && !slices.Equal(caps.Add, []corev1.Capability{"NET_BIND_SERVICE"}) {
			t.Errorf("container %s adds capabilities %v, want only NET_BIND_SERVICE", c.Name, caps.Add)
		}
	}
}
