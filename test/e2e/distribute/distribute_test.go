//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// paused returns a paused Deployment: its replica count is placed, but no
// pods are made, which keeps large counts cheap.
func paused(ns, name string, replicas int, annotations string) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  namespace: %s
  annotations: {%s}
spec:
  paused: true
  replicas: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata: {labels: {app: %s}}
    spec:
      containers: [{name: c, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
`, name, ns, annotations, replicas, name, name)
}

func TestReplicaSplit(t *testing.T) {
	// Weights 2:1:1.
	fed(t, "apply", "-f", manifest(t, paused("split", "weighted", 1000, `kfed.dev/replica-weights: "usa=2"`)))
	if got, want := replicasIn(t, "split", "weighted"), map[string]int64{"usa": 500, "eur": 250, "jpn": 250}; !reflect.DeepEqual(got, want) {
		t.Errorf("weighted split %v, want %v", got, want)
	}
	// Minimum and maximum.
	fed(t, "apply", "-f", manifest(t, paused("split", "bounded", 12, `kfed.dev/replica-min: "jpn=6", kfed.dev/replica-max: "usa=1"`)))
	if got, want := replicasIn(t, "split", "bounded"), map[string]int64{"usa": 1, "eur": 5, "jpn": 6}; !reflect.DeepEqual(got, want) {
		t.Errorf("bounded split %v, want %v", got, want)
	}
	// Bounds that cannot hold are refused before anything is written.
	res := fedFail(t, "apply", "-f", manifest(t, paused("split", "impossible", 3, `kfed.dev/replica-min: "jpn=2,eur=2"`)))
	if !strings.Contains(res.Stderr, "minimums add up to 4, more than the 3 replicas") || !strings.Contains(res.Stderr, "nothing was applied") {
		t.Errorf("impossible split: %s", res.Stderr)
	}
	if got := replicasIn(t, "split", "impossible"); len(got) != 0 {
		t.Errorf("a refused object reached %v", got)
	}
}

// TestRemainderSpread plans 100 workloads whose replicas do not divide
// evenly, through a client dry run, and checks where the remainders land.
func TestRemainderSpread(t *testing.T) {
	var docs []string
	for i := 0; i < 100; i++ {
		docs = append(docs, paused("spread", fmt.Sprintf("app-%d", i), 4, ""))
	}
	res := fed(t, "apply", "--dry-run=client", "-f", manifest(t, strings.Join(docs, "\n---\n")))
	extra := map[string]int{}
	for i := 0; i < 100; i++ {
		for _, row := range rows(res.Stdout, fmt.Sprintf("spread/deployment.apps/app-%d", i)) {
			f := strings.Fields(row)
			if f[2] == "2" {
				extra[f[0]]++
			}
		}
	}
	total := 0
	for _, c := range members {
		total += extra[c]
		// 100 remainders over 3 members: about 33 each; under 20 or over
		// 47 would be far outside a fair spread.
		if extra[c] < 20 || extra[c] > 47 {
			t.Errorf("remainders per member %v: concentrated", extra)
		}
	}
	if total != 100 {
		t.Errorf("%d remainders counted, want 100 (one per object)", total)
	}
	for _, c := range members {
		if get(t, c, gvrNamespaces, "", "spread") != nil {
			t.Errorf("a client dry run created namespace spread in %s", c)
		}
	}
}

func TestCRDAndOverride(t *testing.T) {
	// The Widgets of the CRD this test applies are no kind kfed-manager
	// knew at join.
	kubectl.WithManagerRole(t, hostCtx, members, "cluster-admin")
	path := manifest(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gizmo, namespace: crd}
spec: {size: 3}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: crd
  annotations:
    kfed.dev/overrides: |
      - clusters: [jpn]
        jsonPatch:
        - {op: replace, path: /spec/template/spec/containers/0/image, value: "registry.k8s.io/e2e-test-images/agnhost:2.52"}
spec:
  paused: true
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
`)
	fed(t, "apply", "-f", path)
	widgets := schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
	for _, c := range members {
		w := get(t, c, widgets, "crd", "gizmo")
		if w == nil {
			t.Errorf("%s: the custom resource is missing", c)
			continue
		}
		if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 3 {
			t.Errorf("%s: widget size %d", c, size)
		}
		d := get(t, c, gvrDeployments, "crd", "web")
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		image := containers[0].(map[string]any)["image"]
		want := "registry.k8s.io/e2e-test-images/agnhost:2.53"
		if c == "jpn" {
			want = "registry.k8s.io/e2e-test-images/agnhost:2.52"
		}
		if image != want {
			t.Errorf("%s: image %v, want %s", c, image, want)
		}
	}
	// An override that does not fit the object stops the run first.
	res := fedFail(t, "apply", "-f", manifest(t, paused("crd", "badpatch", 1, `kfed.dev/overrides: "[{clusters: [jpn], jsonPatch: [{op: replace, path: /spec/nothing/here, value: 1}]}]"`)))
	if !strings.Contains(res.Stderr, "override 1 for cluster jpn") {
		t.Errorf("bad override: %s", res.Stderr)
	}
	if get(t, "usa", gvrDeployments, "crd", "badpatch") != nil {
		t.Errorf("a run stopped by a bad override wrote to usa")
	}
}

func TestMemberOutage(t *testing.T) {
	path := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: outage, namespace: outage}
data: {v: "1"}
`)
	stopMember(t, "jpn")
	res := fedFail(t, "apply", "-f", path)
	if got := rows(res.Stdout, "outage/configmap/outage"); len(got) != 3 || got[1] != "jpn failed -" {
		t.Errorf("rows %v, want jpn failed and the others created", got)
	}
	if !strings.Contains(res.Stderr, "Warning: cluster jpn is not ready") {
		t.Errorf("no warning about jpn:\n%s", res.Stderr)
	}
	for _, c := range []string{"eur", "usa"} {
		if get(t, c, gvrConfigMaps, "outage", "outage") == nil {
			t.Errorf("%s lacks the ConfigMap although it was up", c)
		}
	}
	startMember(t, "jpn")
	fed(t, "sync")
	if get(t, "jpn", gvrConfigMaps, "outage", "outage") == nil {
		t.Fatalf("sync did not deliver the ConfigMap to jpn after it came back")
	}

	// The same for delete: pending while jpn is down, finished by sync.
	stopMember(t, "jpn")
	res = fedFail(t, "delete", "configmap", "outage", "-n", "outage")
	if got := rows(res.Stdout, "outage/configmap/outage"); !reflect.DeepEqual(got, []string{"eur deleted -", "jpn pending-deletion -", "usa deleted -"}) {
		t.Errorf("delete rows %v", got)
	}
	startMember(t, "jpn")
	if get(t, "jpn", gvrConfigMaps, "outage", "outage") == nil {
		t.Fatalf("jpn lost the ConfigMap while it was down")
	}
	res = fed(t, "sync")
	if got := rows(res.Stdout, "outage/configmap/outage"); !reflect.DeepEqual(got, []string{"jpn deleted -"}) {
		t.Errorf("sync rows for the pending deletion %v", got)
	}
	if get(t, "jpn", gvrConfigMaps, "outage", "outage") != nil {
		t.Errorf("sync did not finish the pending deletion in jpn")
	}
	// And --force forgets an object whose member stays down.
	fed(t, "apply", "-f", path)
	stopMember(t, "jpn")
	res = fed(t, "delete", "-f", path, "--force")
	if got := rows(res.Stdout, "outage/configmap/outage"); len(got) != 3 || !strings.Contains(res.Stdout, "forgotten (--force); left in the cluster") {
		t.Errorf("forced delete:\n%s", res.Stdout)
	}
	list := kubectl.Succeed(t, "get", "federatedobjects", "-n", "kfed-system", "--context", hostCtx, "-o", "name")
	if strings.Contains(list.Stdout, "configmap-outage") {
		t.Errorf("--force left the record:\n%s", list.Stdout)
	}
}

func TestAdoptAndConflict(t *testing.T) {
	ctx := context.Background()
	// An object that exists in eur and is not kfed's.
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "local", "namespace": "default"},
		"data":     map[string]any{"owner": "team"},
	}}
	if _, err := dyn("eur").Resource(gvrConfigMaps).Namespace("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kubectl.Run(context.Background(), "fed", "delete", "configmap", "local", "-n", "default", "--force", "--context", hostCtx)
		dyn("eur").Resource(gvrConfigMaps).Namespace("default").Delete(context.Background(), "local", metav1.DeleteOptions{})
	})
	path := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: local, namespace: default}
data: {owner: federation}
`)
	res := fedFail(t, "apply", "-f", path)
	if got := rows(res.Stdout, "default/configmap/local"); !reflect.DeepEqual(got, []string{"eur failed -", "jpn created -", "usa created -"}) {
		t.Errorf("rows %v", got)
	}
	if !strings.Contains(res.Stdout, "is not managed by kfed; rerun with --adopt") {
		t.Errorf("no clear refusal:\n%s", res.Stdout)
	}
	if v, _, _ := unstructured.NestedString(get(t, "eur", gvrConfigMaps, "default", "local").Object, "data", "owner"); v != "team" {
		t.Errorf("the refused object was changed: owner=%s", v)
	}
	fed(t, "apply", "-f", path, "--adopt")
	if v, _, _ := unstructured.NestedString(get(t, "eur", gvrConfigMaps, "default", "local").Object, "data", "owner"); v != "federation" {
		t.Errorf("--adopt did not take it over: owner=%s", v)
	}

	// Another manager takes a field over with server-side apply: kfed's
	// next change to it is a conflict, reported for that member.
	other := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"local","namespace":"default"},"data":{"owner":"ops"}}`)
	force := true
	if _, err := dyn("usa").Resource(gvrConfigMaps).Namespace("default").Patch(ctx, "local", types.ApplyPatchType, other, metav1.PatchOptions{FieldManager: "ops-tool", Force: &force}); err != nil {
		t.Fatal(err)
	}
	changed := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: local, namespace: default}
data: {owner: federation-2}
`)
	res = fedFail(t, "apply", "-f", changed)
	if got := rows(res.Stdout, "default/configmap/local"); !reflect.DeepEqual(got, []string{"eur configured -", "jpn configured -", "usa failed -"}) {
		t.Errorf("conflict rows %v", got)
	}
	if !strings.Contains(res.Stdout, "ops-tool") || !strings.Contains(res.Stdout, "--force-conflicts") {
		t.Errorf("the conflict does not name the other manager and the way out:\n%s", res.Stdout)
	}
	fed(t, "apply", "-f", changed, "--force-conflicts")
	if v, _, _ := unstructured.NestedString(get(t, "usa", gvrConfigMaps, "default", "local").Object, "data", "owner"); v != "federation-2" {
		t.Errorf("--force-conflicts: owner=%s", v)
	}
}

func TestDryRunAndPrune(t *testing.T) {
	two := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: prune}
data: {k: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two, namespace: prune}
data: {k: "2"}
`)
	for _, mode := range []string{"--dry-run=client", "--dry-run=server"} {
		res := fed(t, "apply", "-f", two, mode)
		if len(rows(res.Stdout, "prune/configmap/one")) != 3 {
			t.Errorf("%s printed no plan:\n%s", mode, res.Stdout)
		}
		for _, c := range members {
			if get(t, c, gvrNamespaces, "", "prune") != nil || get(t, c, gvrConfigMaps, "prune", "one") != nil {
				t.Errorf("%s changed %s", mode, c)
			}
		}
	}
	list := kubectl.Succeed(t, "get", "federatedobjects", "-n", "kfed-system", "--context", hostCtx, "-o", "name")
	if strings.Contains(list.Stdout, "configmap-one") {
		t.Errorf("a dry run wrote the inventory:\n%s", list.Stdout)
	}

	fed(t, "apply", "-f", two, "--applyset", "prune-set")
	one := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: one, namespace: prune}
data: {k: "1"}
`)
	res := fedFail(t, "apply", "-f", one, "--prune")
	if !strings.Contains(res.Stderr, "--prune needs --applyset") {
		t.Errorf("--prune without a set: %s", res.Stderr)
	}
	res = fed(t, "apply", "-f", one, "--applyset", "prune-set", "--prune")
	if got := rows(res.Stdout, "prune/configmap/two"); !reflect.DeepEqual(got, []string{"eur deleted -", "jpn deleted -", "usa deleted -"}) {
		t.Errorf("prune rows %v", got)
	}
	for _, c := range members {
		if get(t, c, gvrConfigMaps, "prune", "two") != nil {
			t.Errorf("%s still has the pruned ConfigMap", c)
		}
		if get(t, c, gvrConfigMaps, "prune", "one") == nil {
			t.Errorf("%s lost the ConfigMap still in the input", c)
		}
	}
}
