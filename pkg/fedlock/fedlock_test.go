package fedlock

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestHeldBy(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	lease := func(holder string, renewed time.Duration, seconds int32) *coordinationv1.Lease {
		l := &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: ptr.To(seconds)}}
		if holder != "" {
			l.Spec.HolderIdentity = ptr.To(holder)
		}
		l.Spec.RenewTime = ptr.To(metav1.NewMicroTime(now.Add(-renewed)))
		return l
	}
	for _, tc := range []struct {
		name  string
		lease *coordinationv1.Lease
		held  bool
	}{
		{"renewed a moment ago", lease("apply", time.Second, 30), true},
		{"renewed just within its duration", lease("apply", 29*time.Second, 30), true},
		{"not renewed for its duration", lease("apply", 30*time.Second, 30), false},
		{"released", lease("", time.Second, 30), false},
		{"never renewed", &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("apply")}}, false},
	} {
		if holder, held := heldBy(tc.lease, now); held != tc.held || (held && holder != "apply") {
			t.Errorf("%s: held %v by %q, want held %v", tc.name, held, holder, tc.held)
		}
	}
}

func TestDeadHere(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	lease := func(host string, pid int) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			annotationHost: host, annotationPID: strconv.Itoa(pid),
		}}}
	}
	if deadHere(lease(host, os.Getpid())) {
		t.Error("this process counts as dead")
	}
	if !deadHere(lease(host, cmd.Process.Pid)) {
		t.Errorf("process %d, which exited, counts as running", cmd.Process.Pid)
	}
	if deadHere(lease("another-machine.example", cmd.Process.Pid)) {
		t.Error("a process of another machine counts as dead: nothing here can tell")
	}
	if deadHere(&coordinationv1.Lease{}) {
		t.Error("a Lease that names no process counts as dead")
	}
}
