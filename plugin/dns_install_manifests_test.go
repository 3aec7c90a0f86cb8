package plugin

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/deploy"
)

func deployment(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "coredns-fed", "namespace": "kfed-system"},
		"spec":     spec,
	}}
}

// A base that is not what install expects is named in the error, with the
// field, and never panics.
func TestManifestErrors(t *testing.T) {
	o := &DNSInstallOptions{Image: "example.com/coredns-fed:v1"}
	member := &dnsCluster{name: "eur"}
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"spec not an object", deployment(nil), "Deployment coredns-fed: spec.template.spec.containers: no containers"},
		{"no containers", deployment(map[string]any{"template": map[string]any{"spec": map[string]any{}}}),
			"Deployment coredns-fed: spec.template.spec.containers: no containers"},
		{"containers not a list", deployment(map[string]any{"template": map[string]any{"spec": map[string]any{"containers": "coredns"}}}),
			"Deployment coredns-fed: spec.template.spec.containers: .spec.template.spec.containers accessor error"},
		{"template not an object", deployment(map[string]any{"template": []any{}}),
			"Deployment coredns-fed: spec.template.spec.containers: .spec.template.spec accessor error"},
		{"container not an object", deployment(map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{"coredns"}}}}),
			"Deployment coredns-fed: spec.template.spec.containers[0]: is string, not an object"},
		{"volumeMounts not a list", deployment(map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "coredns", "volumeMounts": "snapshot"}}}}}),
			"Deployment coredns-fed: spec.template.spec.containers[0].volumeMounts: .volumeMounts accessor error"},
		{"volumes not a list", deployment(map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "coredns"}}, "volumes": map[string]any{}}}}),
			"Deployment coredns-fed: spec.template.spec.volumes: .spec.template.spec.volumes accessor error"},
		{"annotations not an object", deployment(map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": "x"},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "coredns"}}}}}),
			"Deployment coredns-fed: spec.template.metadata.annotations: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := o.setDeployment(tc.obj, member, "kubeconfig")
			if err == nil || !strings.Contains(err.Error(), "the coredns-fed base's "+tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}

	configMap := func(data any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "coredns-fed"},
			"data":     data,
		}}
	}
	for data, want := range map[string]any{
		"missing":            map[string]any{},
		"not a string":       map[string]any{"Corefile": int64(53)},
		"data not an object": "Corefile",
	} {
		err := setCorefile(configMap(want), []string{"ttl 5"})
		if err == nil || !strings.Contains(err.Error(), "the coredns-fed base's ConfigMap coredns-fed: data.Corefile: ") {
			t.Errorf("Corefile %s: got %v, want an error naming the ConfigMap and data.Corefile", data, err)
		}
	}

	if _, err := baseObject(nil, "Deployment", "coredns-fed"); err == nil || err.Error() != "the coredns-fed base has no Deployment coredns-fed" {
		t.Errorf("a base without the Deployment: %v", err)
	}
}

// The base built into the plugin takes what install sets, in the host and
// in a member.
func TestBaseTakesSettings(t *testing.T) {
	base, err := deploy.CoreDNSFed()
	if err != nil {
		t.Fatal(err)
	}
	o := &DNSInstallOptions{Image: "example.com/coredns-fed:v1"}
	for _, c := range []*dnsCluster{{name: "usa", host: true}, {name: "eur"}} {
		d, err := baseObject(base, "Deployment", corednsFedName)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.setDeployment(d, c, "kubeconfig"); err != nil {
			t.Errorf("%s: %v", c.label(), err)
		}
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		for _, ct := range containers {
			if img, _, _ := unstructured.NestedString(ct.(map[string]any), "image"); img != o.Image {
				t.Errorf("%s: image %q, want %q", c.label(), img, o.Image)
			}
		}
		_, mounted, _ := unstructured.NestedFieldNoCopy(d.Object, "spec", "template", "metadata", "annotations", annotationHostKubeconfig)
		if mounted == c.host {
			t.Errorf("%s: host kubeconfig digest set: %t, want %t", c.label(), mounted, !c.host)
		}
		cm, err := baseObject(base, "ConfigMap", corednsFedName)
		if err != nil {
			t.Fatal(err)
		}
		if err := setCorefile(cm, []string{"ttl 5"}); err != nil {
			t.Errorf("%s: %v", c.label(), err)
		}
	}
}
