package distribute

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/placement"
)

func obj(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func targets(ready ...bool) []*Target {
	names := []string{"eur", "jpn", "usa"}
	regions := []string{"eu-west-1", "ap-northeast-1", "us-east-1"}
	var out []*Target
	for i, r := range ready {
		c := v1alpha1.Cluster{}
		c.Name = names[i]
		c.Spec.Region = regions[i]
		out = append(out, &Target{Cluster: c, Member: placement.Member{Name: names[i], Region: regions[i]}, Ready: r, Reason: "down"})
	}
	return out
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  resourceVersion: "42"
  uid: abc
  annotations:
    kfed.dev/replica-weights: usa=2
    kfed.dev/overrides: "[{clusters: [jpn], mergePatch: {spec: {template: {metadata: {labels: {jp: 'yes'}}}}}}]"
    keep: me
spec:
  replicas: 8
  template:
    metadata: {labels: {app: web}}
status:
  replicas: 3
`

func TestNewPlan(t *testing.T) {
	p, err := NewPlan("ring", obj(t, deployment), targets(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int32{"usa": 4, "eur": 2, "jpn": 2}; !reflect.DeepEqual(p.Replicas, want) {
		t.Errorf("replicas %v, want %v", p.Replicas, want)
	}
	jpn := p.Objects["jpn"]
	if got, _, _ := unstructured.NestedString(jpn.Object, "spec", "template", "metadata", "labels", "jp"); got != "yes" {
		t.Errorf("jpn's override not applied: %v", jpn.Object)
	}
	usa := p.Objects["usa"]
	if _, found, _ := unstructured.NestedMap(usa.Object, "status"); found {
		t.Errorf("status was sent to a member")
	}
	if usa.GetResourceVersion() != "" || usa.GetUID() != "" {
		t.Errorf("server-set metadata was kept")
	}
	ann := usa.GetAnnotations()
	if !strings.HasPrefix(ann[v1alpha1.AnnotationAppliedDigest], "sha256:") {
		t.Errorf("annotations %v: no digest of the object", ann)
	}
	delete(ann, v1alpha1.AnnotationAppliedDigest)
	if !reflect.DeepEqual(ann, map[string]string{"keep": "me"}) {
		t.Errorf("annotations %v: placement annotations must go, others stay", ann)
	}
	if l := usa.GetLabels(); l[v1alpha1.LabelFederation] != "ring" || l[v1alpha1.LabelManagedBy] != v1alpha1.ManagedBy {
		t.Errorf("labels %v", l)
	}
	if got, _, _ := unstructured.NestedInt64(usa.Object, "spec", "replicas"); got != 4 {
		t.Errorf("usa replicas %d", got)
	}
	if _, found, _ := unstructured.NestedString(usa.Object, "spec", "template", "metadata", "labels", "jp"); found {
		t.Errorf("jpn's override reached usa")
	}
	if got := p.Template.GetAnnotations()["kfed.dev/replica-weights"]; got != "usa=2" {
		t.Errorf("the template was changed: %v", p.Template.GetAnnotations())
	}
}

func TestNewPlanNotReadyShareMoves(t *testing.T) {
	p, err := NewPlan("ring", obj(t, deployment), targets(true, false, true))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int32{"usa": 5, "eur": 3}; !reflect.DeepEqual(p.Replicas, want) {
		t.Errorf("replicas %v, want %v", p.Replicas, want)
	}
	if !reflect.DeepEqual(p.NotReady, []string{"jpn"}) || !reflect.DeepEqual(p.Selected(), []string{"eur", "jpn", "usa"}) {
		t.Errorf("NotReady %v, Selected %v", p.NotReady, p.Selected())
	}
}

func TestNewPlanErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}", "generateName cannot be federated"},
		{"apiVersion: kfed.dev/v1alpha1\nkind: Cluster\nmetadata: {name: x}", "belong to the host"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {kfed.dev/clusters: 'Bad!'}}", "kfed.dev/clusters"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x, annotations: {kfed.dev/replica-max: 'usa=1,eur=1,jpn=1'}}\nspec: {replicas: 5}", "only 3 of 5 replicas fit"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {kfed.dev/overrides: '[{clusters: [usa], mergePatch: {metadata: {name: y}}}]'}}", "mergePatch at metadata.name changes the object's name"},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {kfed.dev/note: kept, kfed.dev/overrides: '[{clusters: [usa], mergePatch: {metadata: {annotations: null}}}]'}}", "an override for cluster usa changes annotation kfed.dev/note"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: 3000000000}", "deployment.apps/x: spec.replicas: 3000000000 is out of range: a count goes from 0 to 2147483647"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: -2}", "spec.replicas: -2 must not be negative"},
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {replicas: '3'}", "spec.replicas: 3 is a string, not a number"},
	} {
		_, err := NewPlan("ring", obj(t, tc.doc), targets(true, true, true))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestSortPlansAndTiers(t *testing.T) {
	kinds := []struct{ apiVersion, kind string }{
		{"apps/v1", "Deployment"}, {"v1", "Service"}, {"v1", "ConfigMap"}, {"v1", "Namespace"},
		{"apiextensions.k8s.io/v1", "CustomResourceDefinition"}, {"example.com/v1", "Widget"}, {"v1", "Secret"},
	}
	var plans []*Plan
	for i, k := range kinds {
		p, err := NewPlan("ring", obj(t, "apiVersion: "+k.apiVersion+"\nkind: "+k.kind+"\nmetadata: {name: o"+string(rune('a'+i))+"}"), targets(true))
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	SortPlans(plans)
	var order []string
	for _, p := range plans {
		order = append(order, p.Key.Kind)
	}
	want := []string{"CustomResourceDefinition", "Namespace", "ConfigMap", "Secret", "Service", "Deployment", "Widget"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	var sizes []int
	for _, tier := range tiers(plans) {
		sizes = append(sizes, len(tier))
	}
	if !reflect.DeepEqual(sizes, []int{1, 1, 2, 1, 2}) {
		t.Errorf("tiers %v", sizes)
	}
}

func TestNewPlanSharesWhatCannotDiffer(t *testing.T) {
	p, err := NewPlan("ring", configMap("one"), targets(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Objects) != 3 || p.Objects["usa"] != p.Objects["eur"] || p.Objects["eur"] != p.Objects["jpn"] {
		t.Errorf("a ConfigMap without overrides was rendered once per member: %v", p.Objects)
	}
	d, err := NewPlan("ring", obj(t, deployment), targets(true, true, true))
	if err != nil {
		t.Fatal(err)
	}
	if d.Objects["usa"] == d.Objects["eur"] {
		t.Error("members with their own replicas share one object")
	}
}
