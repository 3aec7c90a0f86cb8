package distribute

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kfed-dev/kfed/pkg/inventory"
)

// CheckName returns why every member would refuse the name or namespace of
// the object key names, or nil. apply checks it before anything is
// written: a member's refusal, found only once other objects of the same
// input were written, would leave half an input applied.
//
// The rules are the API server's own (k8s.io/kubernetes/pkg/apis/*/validation):
// a namespace is a DNS label, a Service a DNS-1035 label, and every other
// kind, custom resources included, a DNS subdomain; except RBAC's objects
// and the few kinds whose names have a form of their own (an IP address, a
// signer, a storage version), checked here only as far as every name is:
// a path segment.
func CheckName(key inventory.Key) error {
	if key.Namespace != "" {
		if msgs := validation.IsDNS1123Label(key.Namespace); len(msgs) > 0 {
			return fmt.Errorf("%s: metadata.namespace %q is invalid: %s", key, key.Namespace, strings.Join(msgs, "; "))
		}
	}
	rule, check := nameRule(key.Group, key.Kind)
	if msgs := check(key.Name); len(msgs) > 0 {
		return fmt.Errorf("%s: metadata.name %q is invalid (the name of a %s is %s): %s; no member would accept it", key, key.Name, key.Kind, rule, strings.Join(msgs, "; "))
	}
	return nil
}

// nameRule returns what a name of kind must be, in words, and its check.
func nameRule(group, kind string) (string, func(string) []string) {
	switch {
	case group == "" && kind == "Namespace":
		return "a DNS label", validation.IsDNS1123Label
	case group == "" && kind == "Service":
		return "a DNS-1035 label", validation.IsDNS1035Label
	case pathSegmentNamed(group, kind):
		return "a path segment", func(name string) []string { return path.IsValidPathSegmentName(name) }
	}
	return "a DNS subdomain", validation.IsDNS1123Subdomain
}

// pathSegmentNamed reports whether the API server takes any path segment
// as the name of kind: RBAC's objects (system:controller:...), and the
// kinds named after an IP address, a storage version or a signer.
func pathSegmentNamed(group, kind string) bool {
	switch group {
	case "rbac.authorization.k8s.io", "internal.apiserver.k8s.io":
		return true
	case "networking.k8s.io":
		return kind == "IPAddress"
	case "certificates.k8s.io":
		return kind == "ClusterTrustBundle"
	case "coordination.k8s.io":
		return kind == "LeaseCandidate"
	}
	return false
}
