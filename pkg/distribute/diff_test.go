package distribute

import (
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestRefused(t *testing.T) {
	cm := schema.GroupKind{Kind: "ConfigMap"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewInvalid(cm, "UpperCase", field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), "UpperCase", "a lowercase RFC 1123 subdomain")}), true},
		{apierrors.NewBadRequest("malformed"), true},
		{apierrors.NewRequestEntityTooLargeError("limit is 3145728"), true},
		{fmt.Errorf("%w example.com/Widget: install its CustomResourceDefinition there first", errNotServed), true},
		// These pass, or may: a write later can succeed.
		{apierrors.NewTimeoutError("no answer", 1), false},
		{apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "x", fmt.Errorf("conflict")), false},
		{apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "shop"), false},
		{apierrors.NewServiceUnavailable("down"), false},
	} {
		if got := Refused(tc.err); got != tc.want {
			t.Errorf("Refused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestUnifiedDiffIgnoresServerFields(t *testing.T) {
	obj := func(rv, value string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "c", "resourceVersion": rv, "managedFields": []any{map[string]any{"manager": rv}}},
			"data":     map[string]any{"k": value},
		}}
	}
	if d, err := unifiedDiff(obj("1", "a"), obj("2", "a"), "usa/c"); err != nil || d != "" {
		t.Errorf("only server fields differ: diff %q, err %v", d, err)
	}
	want := "--- usa/c (live)\n+++ usa/c (federation)\n@@ -1,6 +1,6 @@\n apiVersion: v1\n data:\n-  k: a\n+  k: b\n kind: ConfigMap\n metadata:\n   name: c\n"
	if d, err := unifiedDiff(obj("1", "a"), obj("1", "b"), "usa/c"); err != nil || d != want {
		t.Errorf("got\n%s\nwant\n%s", d, want)
	}
}

func TestAnswered(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", fmt.Errorf("unable to create new content in namespace shop because it is being terminated")), true},
		{apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "x", fmt.Errorf("conflict")), true},
		{apierrors.NewTimeoutError("no answer", 1), false},
		{apierrors.NewTooManyRequests("slow down", 1), false},
		{apierrors.NewServiceUnavailable("down"), false},
		{apierrors.NewInternalError(fmt.Errorf("etcd")), false},
		{fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused"), false},
	} {
		if got := answered(tc.err); got != tc.want {
			t.Errorf("answered(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
