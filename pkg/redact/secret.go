// Package redact keeps Secret values and credentials out of what kfed
// prints: the Secrets that get and diff show, and the request logs that
// client-go writes at high verbosity.
package redact

import (
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The masks that stand for a Secret's values, as kubectl diff writes them.
// A value that two versions of a Secret hold differently is masked as
// MaskBefore in one and MaskAfter in the other, so that a diff shows the
// key changed without showing either value.
const (
	Mask       = "***"
	MaskBefore = "*** (before)"
	MaskAfter  = "*** (after)"
)

// lastApplied is the annotation in which client-side kubectl apply keeps a
// copy of the whole object it applied, data included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// secretFields are the fields of a Secret whose values are secret: the
// server keeps data, but a manifest or a dry run may still carry
// stringData.
var secretFields = []string{"data", "stringData"}

// IsSecret reports whether u is a core Secret, the only kind whose values
// kfed masks.
func IsSecret(u *unstructured.Unstructured) bool {
	if u == nil {
		return false
	}
	gvk := u.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// Secret returns u with every value of its data and stringData, and any
// copy of them in the last-applied annotation, replaced by Mask; the keys
// stay. u itself is left as it is, and an object that is not a Secret is
// returned as it is.
func Secret(u *unstructured.Unstructured) *unstructured.Unstructured {
	masked, _ := SecretPair(u, nil)
	return masked
}

// SecretPair masks two versions of the same Secret for a diff, as kubectl
// diff does: every value becomes Mask, except a value present in both and
// different, which becomes MaskBefore in before and MaskAfter in after.
// Either may be nil. Both are copied before they are masked; objects that
// are not Secrets are returned as they are.
func SecretPair(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	if !IsSecret(before) && !IsSecret(after) {
		return before, after
	}
	from, to := content(before), content(after)
	for _, f := range secretFields {
		fromMap, fromOK := nestedMap(from, f)
		toMap, toOK := nestedMap(to, f)
		if !fromOK || !toOK {
			// Not a map, as a valid Secret's would be: hide the field
			// as a whole rather than guess which part of it is secret.
			maskKey(from, to, f)
			continue
		}
		for k := range union(fromMap, toMap) {
			maskKey(fromMap, toMap, k)
		}
	}
	fromAnn, _ := nestedMap(nestedMapOrNil(from, "metadata"), "annotations")
	toAnn, _ := nestedMap(nestedMapOrNil(to, "metadata"), "annotations")
	maskKey(fromAnn, toAnn, lastApplied)
	return wrap(from), wrap(to)
}

// maskKey masks the value of key in from and in to, either of which may
// be nil or lack the key.
func maskKey(from, to map[string]any, key string) {
	fv, inFrom := from[key]
	tv, inTo := to[key]
	if inFrom && inTo && !reflect.DeepEqual(fv, tv) {
		from[key], to[key] = MaskBefore, MaskAfter
		return
	}
	if inFrom {
		from[key] = Mask
	}
	if inTo {
		to[key] = Mask
	}
}

// content returns a deep copy of u's fields, or nil for a nil u.
func content(u *unstructured.Unstructured) map[string]any {
	if u == nil {
		return nil
	}
	return u.DeepCopy().Object
}

func wrap(obj map[string]any) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	return &unstructured.Unstructured{Object: obj}
}

// nestedMap returns obj[field] as a map. ok is false only when the field
// is there and is not a map; a missing field is a nil map.
func nestedMap(obj map[string]any, field string) (m map[string]any, ok bool) {
	v, found := obj[field]
	if !found || v == nil {
		return nil, true
	}
	m, ok = v.(map[string]any)
	return m, ok
}

func nestedMapOrNil(obj map[string]any, field string) map[string]any {
	m, _ := nestedMap(obj, field)
	return m
}

func union(a, b map[string]any) map[string]struct{} {
	keys := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		keys[k] = struct{}{}
	}
	for k := range b {
		keys[k] = struct{}{}
	}
	return keys
}
