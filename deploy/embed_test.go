package deploy

import (
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// TestCRDs checks that the embedded CRDs are the ones the Go types describe,
// and that the API server would accept them as they are: structural, with
// valid CEL rules and printer columns.
func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensions.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, crd := range crds {
		if crd.Spec.Group != v1alpha1.GroupName {
			t.Errorf("%s: group %q, want %q", crd.Name, crd.Spec.Group, v1alpha1.GroupName)
		}
		if crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
			t.Errorf("%s: scope %s; kfed keeps everything in namespace %s", crd.Name, crd.Spec.Scope, v1alpha1.Namespace)
		}
		kinds[crd.Spec.Names.Kind] = true

		internal := &apiextensions.CustomResourceDefinition{}
		if err := scheme.Convert(crd, internal, nil); err != nil {
			t.Fatalf("%s: %v", crd.Name, err)
		}
		// As the API server sets it on creation.
		internal.Status.StoredVersions = []string{v1alpha1.SchemeGroupVersion.Version}
		if errs := validation.ValidateCustomResourceDefinition(t.Context(), internal); len(errs) > 0 {
			t.Errorf("%s would be rejected by the API server: %v", crd.Name, errs.ToAggregate())
		}
	}
	for gvk := range scheme.AllKnownTypes() {
		if gvk.Group != v1alpha1.GroupName || gvk.Kind == "WatchEvent" || len(gvk.Kind) > 4 && gvk.Kind[len(gvk.Kind)-4:] == "List" {
			continue
		}
		if !kinds[gvk.Kind] && !isMetaKind(gvk.Kind) {
			t.Errorf("kind %s has no embedded CRD; run go generate ./pkg/apis/...", gvk.Kind)
		}
	}
}

func isMetaKind(kind string) bool {
	switch kind {
	case "ListOptions", "GetOptions", "DeleteOptions", "CreateOptions", "UpdateOptions", "PatchOptions":
		return true
	}
	return false
}
