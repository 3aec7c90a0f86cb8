package member

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

func TestClassify(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/version", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	noHost := &url.Error{Op: "Get", URL: "https://nowhere.invalid/version", Err: &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid"}}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("manager identity: %w", refused), v1alpha1.ReasonUnreachable},
		{noHost, v1alpha1.ReasonUnreachable},
		{apierrors.NewUnauthorized("Unauthorized"), v1alpha1.ReasonUnauthorized},
		{apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("no")), v1alpha1.ReasonForbidden},
		{fmt.Errorf("probe: %w", context.DeadlineExceeded), v1alpha1.ReasonTimeout},
		{fmt.Errorf("reading: %w", store.ErrCredentialMissing), v1alpha1.ReasonCredentialsInvalid},
		{errors.New("something else"), v1alpha1.ReasonError},
	} {
		if got, _ := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestHealthApplyTo(t *testing.T) {
	c := &v1alpha1.Cluster{}
	n := int32(3)
	Health{Ready: true, Reason: v1alpha1.ReasonProbeSucceeded, Version: "v1.35.4", Nodes: &n}.ApplyTo(c)
	if !c.IsReady() || c.Status.KubernetesVersion != "v1.35.4" || *c.Status.Nodes != 3 || c.Status.LastProbeTime == nil {
		t.Errorf("status after a good probe: %+v", c.Status)
	}
	first := c.Ready().LastTransitionTime
	Health{Reason: v1alpha1.ReasonUnreachable, Message: "connection refused"}.ApplyTo(c)
	cond := c.Ready()
	if c.IsReady() || cond.Reason != v1alpha1.ReasonUnreachable || cond.Message != "connection refused" {
		t.Errorf("condition after a failed probe: %+v", cond)
	}
	if c.Status.KubernetesVersion != "v1.35.4" {
		t.Errorf("a failed probe forgot the last known version")
	}
	if !cond.LastTransitionTime.After(first.Time) && !cond.LastTransitionTime.Equal(&first) {
		t.Errorf("transition time went back")
	}
}
