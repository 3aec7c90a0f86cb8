//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// reapplyObjects returns the manifest of TestReapplyWritesNothing, with
// cm-0's value: enough ConfigMaps, Services and Secrets that the writers
// read each kind with one list (and the inventory the Secrets' templates
// with one list too), and a Deployment read on its own.
func reapplyObjects(ns, value string) string {
	var docs []string
	for i := 0; i < 6; i++ {
		v := fmt.Sprintf("v%d", i)
		if i == 0 {
			v = value
		}
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {key: %s}\n", i, ns, v))
	}
	for i := 0; i < 4; i++ {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: %s}\nspec:\n  selector: {app: a}\n  ports: [{port: 80}]\n", i, ns))
	}
	for i := 0; i < 4; i++ {
		docs = append(docs, fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: token-%d, namespace: %s}\nstringData: {token: t}\n", i, ns))
	}
	docs = append(docs, paused(ns, "web", 3, ""))
	return strings.Join(docs, "\n---\n")
}

// reapplied is one object of reapplyObjects, as a member has it.
type reapplied struct {
	gvr  schema.GroupVersionResource
	name string
}

func reappliedObjects() []reapplied {
	var out []reapplied
	for i := 0; i < 6; i++ {
		out = append(out, reapplied{gvrConfigMaps, fmt.Sprintf("cm-%d", i)})
	}
	for i := 0; i < 4; i++ {
		out = append(out, reapplied{gvrServices, fmt.Sprintf("svc-%d", i)})
	}
	for i := 0; i < 4; i++ {
		out = append(out, reapplied{gvrSecrets, fmt.Sprintf("token-%d", i)})
	}
	return append(out, reapplied{gvrDeployments, "web"})
}

// versions returns the resourceVersion of every object of reapplyObjects
// in every member, by "cluster/resource/name".
func versions(t *testing.T, ns string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range members {
		for _, o := range reappliedObjects() {
			obj := get(t, c, o.gvr, ns, o.name)
			if obj == nil {
				t.Fatalf("%s: %s %s/%s is missing", c, o.gvr.Resource, ns, o.name)
			}
			out[c+"/"+o.gvr.Resource+"/"+o.name] = obj.GetResourceVersion()
		}
	}
	return out
}

// actions returns the ACTION column of every row of a result table, by
// "OBJECT CLUSTER".
func actions(out string) map[string]string {
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 {
			got[f[0]+" "+f[1]] = f[2]
		}
	}
	return got
}

// TestReapplyWritesNothing re-applies an unchanged manifest, as GitOps
// loops do, and checks that no member is written: every row says
// unchanged and every resourceVersion stays. Then it edits copies in the
// members behind kfed's back, in the ways a person or another tool does,
// and checks that diff shows the edits to kfed's fields, that the next
// apply finds exactly those objects (as conflicts), that one with
// --force-conflicts writes exactly those back, and that the one after
// that writes nothing again.
func TestReapplyWritesNothing(t *testing.T) {
	const ns = "reapply"
	file := manifest(t, reapplyObjects(ns, "v0"))
	fed(t, "apply", "-f", file)
	// The members' deployment controllers write the Deployment's status
	// once: resourceVersions are compared from then on.
	eventually(t, time.Minute, "the Deployment's status in every member", func(ctx context.Context) error {
		for _, c := range members {
			d := get(t, c, gvrDeployments, ns, "web")
			if seen, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration"); seen != d.GetGeneration() {
				return fmt.Errorf("%s: observed generation %d of %d", c, seen, d.GetGeneration())
			}
		}
		return nil
	})
	before := versions(t, ns)

	res := fed(t, "apply", "-f", file)
	expectActions(t, "re-apply of the same manifest", res.Stdout, nil)
	if after := versions(t, ns); !equalVersions(t, before, after, nil) {
		t.Fatal("a re-apply of the same manifest wrote to members")
	}

	// Drift, three ways. In eur, an update (as kubectl edit sends) of a
	// value kfed set; in jpn, a forced server-side apply by another
	// manager; in usa, a label only someone else sets, which is no drift
	// of kfed's: apply would not touch it, so it is not rewritten.
	ctx := context.Background()
	eurCM := dyn("eur").Resource(gvrConfigMaps).Namespace(ns)
	cm, err := eurCM.Get(ctx, "cm-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(cm.Object, "edited", "data", "key"); err != nil {
		t.Fatal(err)
	}
	if _, err := eurCM.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	force := true
	patch := []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-2","namespace":%q},"spec":{"selector":{"app":"b"}}}`, ns))
	if _, err := dyn("jpn").Resource(gvrServices).Namespace(ns).Patch(ctx, "svc-2", types.ApplyPatchType, patch, metav1.PatchOptions{FieldManager: "someone-else", Force: &force}); err != nil {
		t.Fatal(err)
	}
	label := []byte(`{"metadata":{"labels":{"team":"payments"}}}`)
	if _, err := dyn("usa").Resource(gvrConfigMaps).Namespace(ns).Patch(ctx, "cm-3", types.MergePatchType, label, metav1.PatchOptions{FieldManager: "labeller"}); err != nil {
		t.Fatal(err)
	}
	edited := versions(t, ns)

	diff := kubectl.Fail(t, "fed", "diff", "-f", file, "--context", hostCtx)
	for _, want := range []string{"eur", "cm-1", "edited", "jpn", "svc-2", "app: b"} {
		if !strings.Contains(diff.Stdout, want) {
			t.Errorf("diff does not show %q:\n%s", want, diff.Stdout)
		}
	}

	// The edits took kfed's fields over: the next apply finds them, and,
	// as kubectl apply --server-side does, leaves them to whoever took them
	// unless told to take them back.
	res = fedFail(t, "apply", "-f", file)
	expectActions(t, "apply after the edits", res.Stdout, map[string]string{
		ns + "/configmap/cm-1 eur": "failed",
		ns + "/service/svc-2 jpn":  "failed",
	})
	if strings.Count(res.Stdout, "conflict with") != 2 || !strings.Contains(res.Stdout, "--force-conflicts") {
		t.Errorf("the edits are not reported as conflicts:\n%s", res.Stdout)
	}
	equalVersions(t, edited, versions(t, ns), nil)

	res = fed(t, "apply", "-f", file, "--force-conflicts")
	expectActions(t, "apply --force-conflicts after the edits", res.Stdout, map[string]string{
		ns + "/configmap/cm-1 eur": "configured",
		ns + "/service/svc-2 jpn":  "configured",
	})
	if v := get(t, "eur", gvrConfigMaps, ns, "cm-1"); v == nil || v.Object["data"].(map[string]any)["key"] != "v1" {
		t.Errorf("eur's edit of cm-1 was not written back: %v", v)
	}
	if s := get(t, "jpn", gvrServices, ns, "svc-2"); s != nil {
		if app, _, _ := unstructured.NestedString(s.Object, "spec", "selector", "app"); app != "a" {
			t.Errorf("jpn's edit of svc-2 was not written back: selector app=%s", app)
		}
	}
	if c := get(t, "usa", gvrConfigMaps, ns, "cm-3"); c.GetLabels()["team"] != "payments" {
		t.Errorf("usa: a label kfed does not set was removed: %v", c.GetLabels())
	}
	after := versions(t, ns)
	equalVersions(t, edited, after, map[string]bool{"eur/configmaps/cm-1": true, "jpn/services/svc-2": true})

	// The objects written back are recorded again: nothing is written now.
	res = fed(t, "apply", "-f", file)
	expectActions(t, "third apply", res.Stdout, nil)
	equalVersions(t, after, versions(t, ns), nil)

	// A changed manifest is written where it changed, and only there.
	res = fed(t, "apply", "-f", manifest(t, reapplyObjects(ns, "v0-new")))
	changed := map[string]string{}
	for _, c := range members {
		changed[ns+"/configmap/cm-0 "+c] = "configured"
	}
	expectActions(t, "changed manifest", res.Stdout, changed)
}

// expectActions checks a result table of reapplyObjects: a row for each
// object and member, saying unchanged but for the rows in except, by
// "OBJECT CLUSTER", which say the action given there.
func expectActions(t *testing.T, when, out string, except map[string]string) {
	t.Helper()
	got := actions(out)
	if want := len(reappliedObjects()) * len(members); len(got) != want {
		t.Fatalf("%s: %d result rows, want %d:\n%s", when, len(got), want, out)
	}
	for row, action := range got {
		want := except[row]
		if want == "" {
			want = "unchanged"
		}
		if action != want {
			t.Errorf("%s: %s %s, want %s", when, row, action, want)
		}
	}
}

// equalVersions reports whether before and after agree, but for the
// objects in changed, which must differ; it reports each mismatch.
func equalVersions(t *testing.T, before, after map[string]string, changed map[string]bool) bool {
	t.Helper()
	ok := true
	for k, v := range before {
		switch {
		case changed[k] && after[k] == v:
			t.Errorf("%s was not written (resourceVersion %s)", k, v)
			ok = false
		case !changed[k] && after[k] != v:
			t.Errorf("%s was written: resourceVersion %s, now %s", k, v, after[k])
			ok = false
		}
	}
	return ok
}
