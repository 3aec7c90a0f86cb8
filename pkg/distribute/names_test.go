package distribute

import (
	"strings"
	"testing"

	"github.com/kfed-dev/kfed/pkg/inventory"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		key  inventory.Key
		want string // a substring of the error; "" means accepted
	}{
		{inventory.Key{Kind: "ConfigMap", Namespace: "shop", Name: "web.config-1"}, ""},
		{inventory.Key{Kind: "ConfigMap", Namespace: "shop", Name: "Bad_Name"}, `shop/configmap/Bad_Name: metadata.name "Bad_Name" is invalid (the name of a ConfigMap is a DNS subdomain): a lowercase RFC 1123 subdomain`},
		{inventory.Key{Kind: "ConfigMap", Namespace: "shop", Name: strings.Repeat("n", 300)}, "must be no more than 253 characters"},
		{inventory.Key{Kind: "ConfigMap", Namespace: "Shop", Name: "web"}, `metadata.namespace "Shop" is invalid: a lowercase RFC 1123 label`},
		{inventory.Key{Kind: "ConfigMap", Namespace: strings.Repeat("n", 64), Name: "web"}, "must be no more than 63 characters"},
		{inventory.Key{Kind: "Namespace", Name: "web.shop"}, "(the name of a Namespace is a DNS label)"},
		{inventory.Key{Kind: "Service", Name: "1web", Namespace: "shop"}, "(the name of a Service is a DNS-1035 label)"},
		{inventory.Key{Kind: "Service", Name: "web", Namespace: "shop"}, ""},
		{inventory.Key{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web/x"}, "a lowercase RFC 1123 subdomain"},
		{inventory.Key{Group: "example.com", Kind: "Widget", Namespace: "shop", Name: "UPPER"}, "a lowercase RFC 1123 subdomain"},
		{inventory.Key{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:controller:Web"}, ""},
		{inventory.Key{Group: "rbac.authorization.k8s.io", Kind: "Role", Namespace: "shop", Name: "a/b"}, "(the name of a Role is a path segment): may not contain '/'"},
		{inventory.Key{Group: "rbac.authorization.k8s.io", Kind: "Role", Namespace: "shop", Name: ".."}, "may not be '..'"},
		{inventory.Key{Group: "networking.k8s.io", Kind: "IPAddress", Name: "2001:db8::1"}, ""},
	} {
		err := CheckName(tc.key)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckName(%v) = %v, want nil", tc.key, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckName(%v) = %v, want an error containing %q", tc.key, err, tc.want)
		}
	}
}
