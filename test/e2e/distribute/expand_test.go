//go:build e2e

// A federation that grows: a member that joins late, and many objects of one
// kind. These tests were distribute_test.go's last, and still run after its
// others.

package distribute

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

func TestNewMemberGetsEverything(t *testing.T) {
	fed(t, "apply", "-f", manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: everywhere, namespace: newcomer}
data: {k: v}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: europe-only
  namespace: newcomer
  annotations: {kfed.dev/cluster-selector: "topology.kubernetes.io/region=eu-west-1"}
data: {k: v}
`))
	// A fourth cluster, in Asia, joined later.
	extra, err := framework.StartLab("distribute-newcomer", []lab.ClusterSpec{{Name: "sgp", Region: "ap-southeast-1", Zone: "ap-southeast-1a"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { framework.StopLab(extra, !t.Failed()) })
	merged := framework.MergeKubeconfigs(t, testLab.Kubeconfig, extra.Kubeconfig)
	k := *kubectl
	k.Kubeconfig = merged
	k.Succeed(t, "fed", "join", "sgp", "--context", hostCtx, "--cluster-context", "sgp")
	t.Cleanup(func() { k.Run(context.Background(), "fed", "unjoin", "sgp", "--context", hostCtx, "--force") })
	res := k.Succeed(t, "fed", "sync", "--context", hostCtx)
	if got := rows(res.Stdout, "newcomer/configmap/everywhere"); len(got) != 4 || !contains(strings.Join(got, ","), "sgp created") {
		t.Errorf("sync rows %v, want sgp created", got)
	}
	sgp := dynamicFor(t, extra.Cluster("sgp"))
	if _, err := sgp.Resource(gvrConfigMaps).Namespace("newcomer").Get(context.Background(), "everywhere", metav1.GetOptions{}); err != nil {
		t.Errorf("the new member did not get the object placed everywhere: %v", err)
	}
	if _, err := sgp.Resource(gvrConfigMaps).Namespace("newcomer").Get(context.Background(), "europe-only", metav1.GetOptions{}); err == nil {
		t.Errorf("the new member got an object placed only in eu-west-1")
	}

	// The member leaves: the inventory forgets it, what it holds stays, and
	// deleting the object later waits on no one.
	res = k.Succeed(t, "fed", "unjoin", "sgp", "--context", hostCtx)
	if !strings.Contains(res.Stdout, `took "sgp" out of `) {
		t.Errorf("unjoin did not say it took sgp out of the inventory:\n%s", res.Stdout)
	}
	list := kubectl.Succeed(t, "get", "federatedobjects", "-n", "kfed-system", "--context", hostCtx, "-o", "yaml")
	if strings.Contains(list.Stdout, "name: sgp") {
		t.Errorf("the inventory still names sgp after unjoin:\n%s", list.Stdout)
	}
	if _, err := sgp.Resource(gvrConfigMaps).Namespace("newcomer").Get(context.Background(), "everywhere", metav1.GetOptions{}); err != nil {
		t.Errorf("unjoin without --delete-resources removed what the member held: %v", err)
	}
	res = fed(t, "delete", "configmap", "everywhere", "-n", "newcomer")
	if got := rows(res.Stdout, "newcomer/configmap/everywhere"); len(got) != 3 || strings.Contains(strings.Join(got, ","), "sgp") {
		t.Errorf("delete after unjoin: rows %v, want the three members only", got)
	}
}

// TestManyOfAKind applies enough objects of one kind and namespace that kfed
// reads which exist with one list per member instead of a get each: an
// unmanaged object among them is still refused, a second apply reports
// every object unchanged, and an edit reports only that object configured.
func TestManyOfAKind(t *testing.T) {
	ctx := context.Background()
	local := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "many-3", "namespace": "default"},
		"data":     map[string]any{"owner": "team"},
	}}
	if _, err := dyn("jpn").Resource(gvrConfigMaps).Namespace("default").Create(ctx, local, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	input := func(edited string) string {
		var b strings.Builder
		for i := 0; i < 8; i++ {
			value := "v1"
			if fmt.Sprintf("many-%d", i) == edited {
				value = "v2"
			}
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: many-%d, namespace: default}\ndata: {value: %s}\n", i, value)
		}
		return manifest(t, b.String())
	}
	path := input("")
	t.Cleanup(func() {
		kubectl.Run(context.Background(), "fed", "delete", "-f", path, "--force", "--context", hostCtx)
		dyn("jpn").Resource(gvrConfigMaps).Namespace("default").Delete(context.Background(), "many-3", metav1.DeleteOptions{})
	})

	res := fedFail(t, "apply", "-f", path)
	for i := 0; i < 8; i++ {
		want := []string{"eur created -", "jpn created -", "usa created -"}
		if i == 3 {
			want[1] = "jpn failed -"
		}
		if got := rows(res.Stdout, fmt.Sprintf("default/configmap/many-%d", i)); !reflect.DeepEqual(got, want) {
			t.Errorf("first apply, many-%d: rows %v, want %v", i, got, want)
		}
	}
	if !strings.Contains(res.Stdout, "is not managed by kfed; rerun with --adopt") {
		t.Errorf("no clear refusal:\n%s", res.Stdout)
	}
	if v, _, _ := unstructured.NestedString(get(t, "jpn", gvrConfigMaps, "default", "many-3").Object, "data", "owner"); v != "team" {
		t.Errorf("the refused object was changed: owner=%s", v)
	}

	res = fedFail(t, "apply", "-f", path)
	for i := 0; i < 8; i++ {
		want := []string{"eur unchanged -", "jpn unchanged -", "usa unchanged -"}
		if i == 3 {
			want[1] = "jpn failed -"
		}
		if got := rows(res.Stdout, fmt.Sprintf("default/configmap/many-%d", i)); !reflect.DeepEqual(got, want) {
			t.Errorf("second apply, many-%d: rows %v, want %v", i, got, want)
		}
	}

	res = fedFail(t, "apply", "-f", input("many-5"))
	for i := 0; i < 8; i++ {
		action := "unchanged"
		if i == 5 {
			action = "configured"
		}
		want := []string{"eur " + action + " -", "jpn " + action + " -", "usa " + action + " -"}
		if i == 3 {
			want[1] = "jpn failed -"
		}
		if got := rows(res.Stdout, fmt.Sprintf("default/configmap/many-%d", i)); !reflect.DeepEqual(got, want) {
			t.Errorf("apply with an edit, many-%d: rows %v, want %v", i, got, want)
		}
	}
	for _, c := range []string{"eur", "jpn", "usa"} {
		if v, _, _ := unstructured.NestedString(get(t, c, gvrConfigMaps, "default", "many-5").Object, "data", "value"); v != "v2" {
			t.Errorf("%s: many-5 value=%s, want v2", c, v)
		}
	}
}
