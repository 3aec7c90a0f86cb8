package deploy

import (
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

func TestCoreDNSFed(t *testing.T) {
	objs, err := CoreDNSFed()
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byKey[o.GetKind()+"/"+o.GetName()] = o
		want := v1alpha1.Namespace
		if o.GetName() == "coredns-fed-dns-readers" {
			want = v1alpha1.DNSNamespace
		}
		if o.GetNamespace() != want {
			t.Errorf("%s/%s is in namespace %q, want %s", o.GetKind(), o.GetName(), o.GetNamespace(), want)
		}
	}
	for _, want := range []string{
		"ServiceAccount/coredns-fed", "Role/coredns-fed", "RoleBinding/coredns-fed",
		"Role/coredns-fed-dns-readers", "RoleBinding/coredns-fed-dns-readers",
		"ConfigMap/coredns-fed", "ConfigMap/coredns-fed-settings", "Deployment/coredns-fed",
		"Service/coredns-fed", "Service/coredns-fed-metrics", "PodDisruptionBudget/coredns-fed",
	} {
		if byKey[want] == nil {
			t.Errorf("the base has no %s; it has %v", want, objs)
		}
	}
}

// TestCoreDNSFedRBAC pins what the ServiceAccount may do in the host: read
// the kfed.dev objects in kfed-system and the Secrets in kfed-dns, update
// those Secrets (refreshed DNS-reader tokens), and no Secret of
// kfed-system, where the managers' credentials are.
func TestCoreDNSFedRBAC(t *testing.T) {
	objs, err := CoreDNSFed()
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]*rbacv1.Role{}
	var bindings []*rbacv1.RoleBinding
	for _, o := range objs {
		switch o.GetKind() {
		case "Role":
			r := &rbacv1.Role{}
			convert(t, o, r)
			roles[r.Namespace+"/"+r.Name] = r
		case "RoleBinding":
			b := &rbacv1.RoleBinding{}
			convert(t, o, b)
			bindings = append(bindings, b)
		case "ClusterRole", "ClusterRoleBinding":
			t.Errorf("the base grants rights in every namespace with %s/%s", o.GetKind(), o.GetName())
		}
	}

	// What the ServiceAccount is granted, as namespace/group/resource.
	granted := map[string]bool{}
	updates := false
	for _, b := range bindings {
		if len(b.Subjects) != 1 || b.Subjects[0].Kind != rbacv1.ServiceAccountKind ||
			b.Subjects[0].Name != "coredns-fed" || b.Subjects[0].Namespace != v1alpha1.Namespace {
			t.Errorf("rolebinding %s/%s binds %+v, want only the ServiceAccount %s/coredns-fed", b.Namespace, b.Name, b.Subjects, v1alpha1.Namespace)
		}
		role := roles[b.Namespace+"/"+b.RoleRef.Name]
		if b.RoleRef.Kind != "Role" || role == nil {
			t.Errorf("rolebinding %s/%s refers to %s %s, not to a Role of the base in its namespace", b.Namespace, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			continue
		}
		for _, rule := range role.Rules {
			for _, verb := range rule.Verbs {
				// The one write: a refreshed DNS-reader token, back into
				// its Secret in kfed-dns.
				write := verb == "update" && b.Namespace == v1alpha1.DNSNamespace && slices.Equal(rule.Resources, []string{"secrets"})
				if verb != "list" && verb != "watch" && !write {
					t.Errorf("role %s/%s grants %s on %v", role.Namespace, role.Name, verb, rule.Resources)
				}
				if write {
					updates = true
				}
			}
			if len(rule.ResourceNames) > 0 {
				t.Errorf("role %s/%s grants by name: %v", role.Namespace, role.Name, rule.ResourceNames)
			}
			for _, g := range rule.APIGroups {
				for _, r := range rule.Resources {
					granted[b.Namespace+"/"+g+"/"+r] = true
				}
			}
		}
	}
	want := map[string]bool{
		v1alpha1.Namespace + "/kfed.dev/federations": true,
		v1alpha1.Namespace + "/kfed.dev/clusters":    true,
		v1alpha1.DNSNamespace + "//secrets":          true,
	}
	for w := range want {
		if !granted[w] {
			t.Errorf("the ServiceAccount is not granted %s", w)
		}
	}
	for g := range granted {
		if !want[g] {
			t.Errorf("the ServiceAccount is granted %s", g)
		}
	}
	if !updates {
		t.Errorf("the ServiceAccount may not update the Secrets of %s, where it writes refreshed DNS-reader tokens", v1alpha1.DNSNamespace)
	}
}

func convert(t *testing.T, from *unstructured.Unstructured, to any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(from.Object, to); err != nil {
		t.Fatalf("%s/%s: %v", from.GetKind(), from.GetName(), err)
	}
}

// The plugin copies the objects for each cluster it installs into.
func TestCoreDNSFedDeepCopies(t *testing.T) {
	objs, err := CoreDNSFed()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		_ = o.DeepCopy()
	}
}
