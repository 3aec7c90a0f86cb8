//go:build e2e

package distribute

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/inventory"
)

var gvrRecords = schema.GroupVersionResource{Group: "kfed.dev", Version: "v1alpha1", Resource: "federatedobjects"}

// recordFailed writes the inventory record an older kfed wrote for an
// object whose every write failed: the object as its template, and each
// member's result failed with message. Writing it directly keeps the test
// independent of whether apply still records such objects.
func recordFailed(t *testing.T, obj *unstructured.Unstructured, message string) {
	t.Helper()
	raw, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	var clusters []any
	for _, c := range members {
		clusters = append(clusters, map[string]any{"name": c, "action": "failed", "message": message, "time": time.Now().UTC().Format(time.RFC3339)})
	}
	rec := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kfed.dev/v1alpha1", "kind": "FederatedObject",
		"metadata": map[string]any{
			"name": inventory.RecordName("magicring", inventory.KeyOf(obj)), "namespace": "kfed-system",
			"labels": map[string]any{"kfed.dev/federation": "magicring", "app.kubernetes.io/managed-by": "kubectl-fed"},
		},
		"spec": map[string]any{
			"federation": "magicring",
			"resource":   map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "namespace": obj.GetNamespace(), "name": obj.GetName()},
			"template":   json.RawMessage(raw),
		},
		"status": map[string]any{"clusters": clusters, "summary": fmt.Sprintf("0/%d applied", len(members))},
	}}
	data, err := json.Marshal(rec.Object)
	if err != nil {
		t.Fatal(err)
	}
	force := true
	records := dyn(hostCtx).Resource(gvrRecords).Namespace("kfed-system")
	if _, err := records.Patch(context.Background(), rec.GetName(), "application/apply-patch+yaml", data,
		metav1.PatchOptions{FieldManager: "kubectl-fed", Force: &force}); err != nil {
		t.Fatalf("writing the record of %s: %v", obj.GetName(), err)
	}
}

func configMap(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"k": "v"},
	}}
}

// linesAbout returns the lines of out that name object.
func linesAbout(out, object string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " "+object+":") || strings.HasPrefix(line, object+" ") {
			got = append(got, line)
		}
	}
	return got
}

// TestRefusedRecord is issue 13's done-when 5 for diff and sync: records of
// objects that every member refuses (an uppercase name, a 300-character
// name), as an older apply left them, are shown by diff as refused with the
// member's error, never as something apply or sync creates; sync reports
// the error, does not promise a re-run will help, and names the delete
// command, which works.
func TestRefusedRecord(t *testing.T) {
	ctx := context.Background()
	bad := []*unstructured.Unstructured{configMap("default", "UpperCase"), configMap("default", strings.Repeat("n", 300))}
	var yaml strings.Builder
	for _, obj := range bad {
		data, _ := json.Marshal(obj.Object)
		fmt.Fprintf(&yaml, "---\n%s\n", data)
	}
	path := manifest(t, yaml.String())
	t.Cleanup(func() {
		kubectl.Run(context.Background(), "fed", "delete", "-f", path, "--force", "--context", hostCtx)
	})

	// The members refuse them, whatever apply then records.
	res := fedFail(t, "apply", "-f", path)
	if !strings.Contains(res.Stdout+res.Stderr, "is invalid") {
		t.Errorf("apply did not report the members' error:\n%s", res)
	}
	for _, obj := range bad {
		recordFailed(t, obj, fmt.Sprintf("ConfigMap %q is invalid: metadata.name: Invalid value", obj.GetName()))
	}

	for _, args := range [][]string{{"diff"}, {"diff", "-f", path}} {
		res, err := kubectl.Run(ctx, append(append([]string{"fed"}, args...), "--context", hostCtx)...)
		if err != nil || res.ExitCode != 1 {
			t.Fatalf("%v: want exit 1 (differences): %v\n%s", args, err, res)
		}
		for _, obj := range bad {
			key := "default/configmap/" + obj.GetName()
			lines := linesAbout(res.Stdout, key)
			if len(lines) != len(members) {
				t.Errorf("%v: %d lines about %s, want one per member:\n%s", args, len(lines), key, res.Stdout)
			}
			for _, line := range lines {
				for _, want := range []string{": refused: ", "is invalid", "`kubectl fed delete configmap/" + obj.GetName() + " -n default`"} {
					if !strings.Contains(line, want) {
						t.Errorf("%v: a line about %s lacks %q:\n%s", args, key, want, line)
					}
				}
				if strings.Contains(line, "creates it") {
					t.Errorf("%v: diff promises what cannot happen:\n%s", args, line)
				}
			}
		}
	}

	res, err := kubectl.Run(ctx, "fed", "sync", "--context", hostCtx)
	if err != nil || res.ExitCode != 1 {
		t.Fatalf("sync: want exit 1: %v\n%s", err, res)
	}
	for _, obj := range bad {
		key := "default/configmap/" + obj.GetName()
		if got := rows(res.Stdout, key); strings.Join(got, ",") != "eur failed -,jpn failed -,usa failed -" {
			t.Errorf("sync rows of %s: %v", key, got)
		}
		for _, line := range linesAbout(res.Stdout, key) {
			if !strings.Contains(line, "refused: ") || !strings.Contains(line, "is invalid") {
				t.Errorf("sync row without the member's error:\n%s", line)
			}
		}
	}
	var deleteCmd string
	for _, line := range strings.Split(res.Stderr, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "kubectl fed delete ") {
			deleteCmd = strings.TrimSpace(line)
		}
	}
	if !strings.Contains(res.Stderr, "syncing again will not change that") || deleteCmd == "" {
		t.Fatalf("sync does not say what to do:\n%s", res)
	}
	// Other tests' objects may fail for passing reasons, and those a re-run
	// may help; the refused writes must not be among them.
	others := 0
	for _, line := range strings.Split(res.Stdout, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[2] == "failed" && !strings.HasPrefix(f[0], "default/configmap/") {
			others++
		}
	}
	for _, line := range strings.Split(res.Stderr, "\n") {
		var failed, total int
		if _, err := fmt.Sscanf(strings.TrimPrefix(line, "error: "), "%d of %d writes failed", &failed, &total); err == nil && failed != others {
			t.Errorf("sync counts %d failed writes that a re-run may help, want %d (the refused ones are not):\n%s", failed, others, res)
		}
	}

	// What sync suggests works, pasted as it is.
	fed(t, strings.Fields(strings.TrimPrefix(deleteCmd, "kubectl fed "))...)
	for _, obj := range bad {
		name := inventory.RecordName("magicring", inventory.KeyOf(obj))
		if _, err := dyn(hostCtx).Resource(gvrRecords).Namespace("kfed-system").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the record of %s is still there after the suggested delete: %v", obj.GetName(), err)
		}
	}
	res, _ = kubectl.Run(ctx, "fed", "sync", "--context", hostCtx)
	if strings.Contains(res.Stdout+res.Stderr, "UpperCase") {
		t.Errorf("sync still reports the deleted objects:\n%s", res)
	}
}

// TestFailedRecordRetried: a record whose every write failed for a reason
// that passes (a member that did not answer) is not refused: diff says
// apply or sync creates the object, with the recorded error, and sync does.
// Where the object's namespace is missing too, no member can dry-run the
// write: diff says so and that the recorded refusal may come again, and
// sync tries.
func TestFailedRecordRetried(t *testing.T) {
	ctx := context.Background()
	recordFailed(t, configMap("default", "retried"), "cluster not ready: no answer within 10s")
	recordFailed(t, configMap("retried", "retried"), `ConfigMap "retried" is invalid: data: Too long`)
	t.Cleanup(func() {
		kubectl.Run(context.Background(), "fed", "delete", "configmap/retried", "-n", "default", "--context", hostCtx)
		kubectl.Run(context.Background(), "fed", "delete", "configmap/retried", "-n", "retried", "--context", hostCtx)
	})

	res, err := kubectl.Run(ctx, "fed", "diff", "--context", hostCtx)
	if err != nil || res.ExitCode != 1 {
		t.Fatalf("diff: want exit 1: %v\n%s", err, res)
	}
	for object, want := range map[string]string{
		"default/configmap/retried": "missing: not in the cluster yet; apply or sync creates it; its last write there failed: cluster not ready",
		"retried/configmap/retried": "missing: not in the cluster yet, nor its namespace retried; apply or sync creates the namespace, then writes the object, " +
			`which the cluster may refuse again; its last write there failed: ConfigMap "retried" is invalid`,
	} {
		lines := linesAbout(res.Stdout, object)
		if len(lines) != len(members) {
			t.Errorf("diff: %d lines about %s, want %d:\n%s", len(lines), object, len(members), res.Stdout)
		}
		for _, line := range lines {
			if !strings.Contains(line, want) {
				t.Errorf("diff line lacks %q:\n%s", want, line)
			}
		}
	}
	res, _ = kubectl.Run(ctx, "fed", "sync", "--context", hostCtx)
	for _, ns := range []string{"default", "retried"} {
		if got := rows(res.Stdout, ns+"/configmap/retried"); strings.Join(got, ",") != "eur created -,jpn created -,usa created -" {
			t.Errorf("sync rows of %s/configmap/retried: %v:\n%s", ns, got, res)
		}
		for _, c := range members {
			if get(t, c, gvrConfigMaps, ns, "retried") == nil {
				t.Errorf("sync did not create %s/configmap/retried in %s", ns, c)
			}
		}
	}
}

// TestDiffMany compares enough objects of one kind and namespace that diff
// reads each member's with one list. Right after the apply it finds
// nothing, although the Deployments' controllers write their status
// meanwhile; then an edit, a deletion and an object taken over by someone
// else show, each once, in the member where they happened.
func TestDiffMany(t *testing.T) {
	ctx := context.Background()
	var b strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%02d, namespace: diffmany}\ndata: {value: v%d}\n", i, i)
	}
	for i := 0; i < 20; i++ {
		b.WriteString("---\n" + paused("diffmany", fmt.Sprintf("deploy-%02d", i), 3, ""))
	}
	path := manifest(t, b.String())
	t.Cleanup(func() {
		kubectl.Run(context.Background(), "fed", "delete", "-f", path, "--force", "--context", hostCtx)
		// No longer kfed's, so left in place by the delete.
		dyn("usa").Resource(gvrConfigMaps).Namespace("diffmany").Delete(context.Background(), "cm-21", metav1.DeleteOptions{})
	})
	fed(t, "apply", "-f", path)
	fed(t, "diff", "-f", path)

	eur := dyn("eur").Resource(gvrConfigMaps).Namespace("diffmany")
	if _, err := eur.Patch(ctx, "cm-07", "application/merge-patch+json", []byte(`{"data":{"value":"edited"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dyn("jpn").Resource(gvrConfigMaps).Namespace("diffmany").Delete(ctx, "cm-13", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	label := []byte(`{"metadata":{"labels":{"kfed.dev/federation":null}}}`)
	if _, err := dyn("usa").Resource(gvrConfigMaps).Namespace("diffmany").Patch(ctx, "cm-21", "application/merge-patch+json", label, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := kubectl.Run(ctx, "fed", "diff", "-f", path, "--context", hostCtx)
	if err != nil || res.ExitCode != 1 {
		t.Fatalf("want exit 1: %v\n%s", err, res)
	}
	for _, want := range []string{
		"--- eur/diffmany/configmap/cm-07 (live)\n",
		"-  value: edited\n+  value: v7\n",
		"# cluster jpn: diffmany/configmap/cm-13: missing: deleted directly in the cluster; sync creates it again\n",
		"# cluster usa: diffmany/configmap/cm-21: unmanaged: ",
	} {
		if strings.Count(res.Stdout, want) != 1 {
			t.Errorf("diff shows %q %d times, want once:\n%s", want, strings.Count(res.Stdout, want), res.Stdout)
		}
	}
	if n := strings.Count(res.Stdout, "# cluster ") + strings.Count(res.Stdout, "--- "); n != 3 {
		t.Errorf("diff shows %d differences, want 3:\n%s", n, res.Stdout)
	}
}
