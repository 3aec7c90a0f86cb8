//go:build e2e

// Members that drift from what was applied: diff shows the edits and
// deletions made in them and sync undoes them, and rebalance moves the
// replicas of a member that fails, and back. These tests were
// distribute_test.go's last, and still run after its others: the file
// sorts right after it.

package distribute

import (
	"context"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func TestDiffAndSync(t *testing.T) {
	ctx := context.Background()
	fed(t, "apply", "-f", manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: drift, namespace: drift}
data: {color: blue}
`))
	res, err := kubectl.Run(ctx, "fed", "diff", "--context", hostCtx)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("diff right after apply: %v\n%s", err, res)
	}
	// Drift: an edit in eur, a deletion in jpn.
	patch := []byte(`{"data":{"color":"red"}}`)
	if _, err := dyn("eur").Resource(gvrConfigMaps).Namespace("drift").Patch(ctx, "drift", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := dyn("jpn").Resource(gvrConfigMaps).Namespace("drift").Delete(ctx, "drift", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err = kubectl.Run(ctx, "fed", "diff", "--context", hostCtx)
	if err != nil || res.ExitCode != 1 {
		t.Fatalf("diff with drift: want exit 1: %v\n%s", err, res)
	}
	for _, want := range []string{"--- eur/drift/configmap/drift (live)", "-  color: red", "+  color: blue", "# cluster jpn: drift/configmap/drift: missing: deleted directly in the cluster"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("diff lacks %q:\n%s", want, res.Stdout)
		}
	}
	// diff never repairs anything by itself.
	if v, _, _ := unstructured.NestedString(get(t, "eur", gvrConfigMaps, "drift", "drift").Object, "data", "color"); v != "red" {
		t.Errorf("diff changed eur")
	}
	fed(t, "sync")
	if v, _, _ := unstructured.NestedString(get(t, "eur", gvrConfigMaps, "drift", "drift").Object, "data", "color"); v != "blue" {
		t.Errorf("sync did not revert the edit: %s", v)
	}
	if get(t, "jpn", gvrConfigMaps, "drift", "drift") == nil {
		t.Errorf("sync did not restore the deletion")
	}
	res, _ = kubectl.Run(ctx, "fed", "diff", "--context", hostCtx)
	if res.ExitCode != 0 {
		t.Errorf("diff after sync: %s", res)
	}
}

func TestRebalance(t *testing.T) {
	fed(t, "apply", "-f", manifest(t, paused("rebalance", "web", 9, "")))
	if got, want := replicasIn(t, "rebalance", "web"), map[string]int64{"usa": 3, "eur": 3, "jpn": 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("split %v, want %v", got, want)
	}
	stopMember(t, "eur")
	res := fed(t, "rebalance")
	if got := rows(res.Stdout, "rebalance/deployment.apps/web"); len(got) != 2 {
		t.Errorf("rebalance rows %v", got)
	}
	got := map[string]int64{}
	for _, c := range []string{"usa", "jpn"} {
		d := get(t, c, gvrDeployments, "rebalance", "web")
		got[c], _, _ = unstructured.NestedInt64(d.Object, "spec", "replicas")
	}
	if got["usa"]+got["jpn"] != 9 || got["usa"] < 4 || got["jpn"] < 4 {
		t.Errorf("after eur failed: %v; want its 3 replicas moved to usa and jpn", got)
	}
	startMember(t, "eur")
	fed(t, "rebalance")
	if got, want := replicasIn(t, "rebalance", "web"), map[string]int64{"usa": 3, "eur": 3, "jpn": 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("after eur recovered: %v, want %v", got, want)
	}
}
