package aggregate

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestErrors(t *testing.T) {
	refused := errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	err := NewErrors([]error{
		nil,
		fmt.Errorf(`deployments.apps "web" not found in any cluster`),
		&ClusterError{Cluster: "usa", Err: refused},
		&ClusterError{Cluster: "eur", Err: &meta.NoResourceMatchError{PartialResource: schema.GroupVersionResource{Resource: "crontabs"}}},
	})
	want := `error: cluster eur: the server doesn't have a resource type "crontabs"
error: cluster usa: dial tcp 127.0.0.1:6443: connect: connection refused
error: deployments.apps "web" not found in any cluster`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, refused) {
		t.Error("errors.Is does not see a member's error")
	}
	var ce *ClusterError
	if !errors.As(err, &ce) || ce.Cluster != "eur" {
		t.Errorf("errors.As = %v", ce)
	}
	if NewErrors(nil) != nil || NewErrors([]error{nil}) != nil {
		t.Error("NewErrors of no errors is not nil")
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		r    schema.GroupVersionResource
		want string
	}{
		{schema.GroupVersionResource{Resource: "foos"}, `the server doesn't have a resource type "foos"`},
		{schema.GroupVersionResource{Group: "x.io", Resource: "foos"}, `the server doesn't have a resource type "foos" in group "x.io"`},
		{schema.GroupVersionResource{Version: "v2", Resource: "foos"}, `the server doesn't have a resource type "foos" in version "v2"`},
		{schema.GroupVersionResource{Group: "x.io", Version: "v2", Resource: "foos"}, `the server doesn't have a resource type "foos" in group "x.io" and version "v2"`},
	} {
		if got := Describe(fmt.Errorf("wrapped: %w", &meta.NoResourceMatchError{PartialResource: tc.r})); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}
