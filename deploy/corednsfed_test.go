package deploy

import "testing"

func TestCoreDNSFed(t *testing.T) {
	objs, err := CoreDNSFed()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, o := range objs {
		kinds[o.GetKind()+"/"+o.GetName()] = true
		if o.GetNamespace() != "kfed-system" {
			t.Errorf("%s/%s is in namespace %q, want kfed-system", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	for _, want := range []string{
		"ServiceAccount/coredns-fed", "Role/coredns-fed", "RoleBinding/coredns-fed",
		"ConfigMap/coredns-fed", "ConfigMap/coredns-fed-settings", "Deployment/coredns-fed",
		"Service/coredns-fed", "Service/coredns-fed-metrics", "PodDisruptionBudget/coredns-fed",
	} {
		if !kinds[want] {
			t.Errorf("the base has no %s; it has %v", want, kinds)
		}
	}
}
