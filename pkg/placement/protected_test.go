package placement

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestOverridesOfKfedsOwnRefused(t *testing.T) {
	for _, tc := range []struct {
		name, overrides, want string
	}{
		{"json remove federation label",
			`[{clusters: [jpn], jsonPatch: [{op: remove, path: /metadata/labels/kfed.dev~1federation}]}]`,
			"override 1: jsonPatch operation 1 (remove /metadata/labels/kfed.dev~1federation) changes label kfed.dev/federation, which is kfed's own"},
		{"json replace managed-by",
			`[{clusters: [jpn], jsonPatch: [{op: test, path: /metadata/labels/app.kubernetes.io~1managed-by, value: kubectl-fed}, {op: replace, path: /metadata/labels/app.kubernetes.io~1managed-by, value: helm}]}]`,
			"jsonPatch operation 2 (replace /metadata/labels/app.kubernetes.io~1managed-by) changes label app.kubernetes.io/managed-by"},
		{"json add kfed annotation, second override",
			`[{clusters: [usa], mergePatch: {data: {a: b}}}, {clusterSelector: env=prod, jsonPatch: [{op: add, path: /metadata/annotations/kfed.dev~1clusters, value: usa}]}]`,
			"override 2: jsonPatch operation 1 (add /metadata/annotations/kfed.dev~1clusters) changes annotation kfed.dev/clusters"},
		{"json replace all labels",
			`[{clusters: [jpn], jsonPatch: [{op: replace, path: /metadata/labels, value: {tier: jp}}]}]`,
			"(replace /metadata/labels) replaces all of metadata.labels"},
		{"json remove metadata",
			`[{clusters: [jpn], jsonPatch: [{op: remove, path: /metadata}]}]`,
			"(remove /metadata) replaces all of metadata"},
		{"json move a kfed label away",
			`[{clusters: [jpn], jsonPatch: [{op: move, from: /metadata/labels/kfed.dev~1federation, path: /metadata/labels/x}]}]`,
			"(move /metadata/labels/kfed.dev~1federation) changes label kfed.dev/federation"},
		{"json name", `[{clusters: [jpn], jsonPatch: [{op: replace, path: /metadata/name, value: y}]}]`, "(replace /metadata/name) changes the object's name"},
		{"json namespace", `[{clusters: [jpn], jsonPatch: [{op: add, path: /metadata/namespace, value: y}]}]`, "changes the object's namespace"},
		{"json kind", `[{clusters: [jpn], jsonPatch: [{op: replace, path: /kind, value: Secret}]}]`, "changes the object's kind"},
		{"json whole object", `[{clusters: [jpn], jsonPatch: [{op: replace, path: "", value: {}}]}]`, "replaces the whole object"},
		{"merge kfed label",
			`[{clusters: [jpn], mergePatch: {metadata: {labels: {tier: jp, kfed.dev/federation: null}}}}]`,
			`override 1: mergePatch at metadata.labels["kfed.dev/federation"] changes label kfed.dev/federation, which is kfed's own`},
		{"merge managed-by annotation",
			`[{clusters: [jpn], mergePatch: {metadata: {annotations: {app.kubernetes.io/managed-by: helm}}}}]`,
			`mergePatch at metadata.annotations["app.kubernetes.io/managed-by"] changes annotation app.kubernetes.io/managed-by`},
		{"merge all labels", `[{clusters: [jpn], mergePatch: {metadata: {labels: null}}}]`, "mergePatch at metadata.labels removes all labels"},
		{"merge metadata null", `[{clusters: [jpn], mergePatch: {metadata: null}}]`, "mergePatch at metadata replaces all of metadata"},
		{"merge namespace", `[{clusters: [jpn], mergePatch: {metadata: {namespace: other}}}]`, "mergePatch at metadata.namespace changes the object's namespace"},
		{"merge apiVersion", `[{clusters: [jpn], mergePatch: {apiVersion: v2}}]`, "mergePatch at apiVersion changes the object's apiVersion"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOverrides(tc.overrides)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v,\nwant an error containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "annotation kfed.dev/overrides") || !strings.Contains(err.Error(), "which kfed finds and deletes its objects by") {
				t.Errorf("the error does not name the annotation or say why: %v", err)
			}
		})
	}
}

func TestOverridesOfOtherMetadataAllowed(t *testing.T) {
	for _, o := range []string{
		`[{clusters: [jpn], jsonPatch: [{op: add, path: /metadata/labels/tier, value: jp}]}]`,
		`[{clusters: [jpn], jsonPatch: [{op: remove, path: /metadata/annotations/note}]}]`,
		`[{clusters: [jpn], jsonPatch: [{op: copy, from: /metadata/labels/kfed.dev~1federation, path: /metadata/labels/copied}]}]`,
		`[{clusters: [jpn], jsonPatch: [{op: test, path: /metadata/name, value: web}]}]`,
		`[{clusters: [jpn], jsonPatch: [{op: replace, path: /spec/kind, value: x}]}]`,
		`[{clusters: [jpn], mergePatch: {metadata: {labels: {tier: jp, kfed.dev.example/x: y}, annotations: {note: null}}}}]`,
		`[{clusters: [jpn], mergePatch: {spec: {metadata: {name: nested}}}}]`,
	} {
		if _, err := ParseOverrides(o); err != nil {
			t.Errorf("%s: %v", o, err)
		}
	}
}

func TestCheckRendered(t *testing.T) {
	doc := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := doc(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"shop",
		"labels":{"kfed.dev/federation":"ring","app.kubernetes.io/managed-by":"kubectl-fed","tier":"a"},
		"annotations":{"kfed.dev/note":"kept","other":"1"}}}`)
	// Annotations removed as a whole take kfed's along: only the rendered
	// object shows that.
	overrides, err := ParseOverrides(`[{clusters: [jpn], mergePatch: {metadata: {annotations: null}}}]`)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(before)
	patched, err := ApplyOverrides(raw, overrides, lab[2])
	if err != nil {
		t.Fatal(err)
	}
	err = CheckRendered(before, doc(string(patched)), lab[2])
	if err == nil || !strings.Contains(err.Error(), "an override for cluster jpn changes annotation kfed.dev/note, which is kfed's own") {
		t.Errorf("got %v", err)
	}
	// Other labels and annotations may change.
	after := doc(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"shop",
		"labels":{"kfed.dev/federation":"ring","app.kubernetes.io/managed-by":"kubectl-fed"},
		"annotations":{"kfed.dev/note":"kept","other":"2","new":"3"}}}`)
	if err := CheckRendered(before, after, lab[2]); err != nil {
		t.Errorf("got %v", err)
	}
	after["metadata"].(map[string]any)["name"] = "y"
	if err := CheckRendered(before, after, lab[2]); err == nil || !strings.Contains(err.Error(), "changes the object's name") {
		t.Errorf("got %v", err)
	}
}
