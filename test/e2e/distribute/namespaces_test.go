//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// Namespaces apply creates implicitly, for the objects it puts in them, are
// kfed's to remove only while nothing else lives there (issue 13,
// done-when 2).

var gvrEndpointSlices = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}

// namespaceGone waits until namespace ns is gone, or being deleted, in
// cluster.
func namespaceGone(t *testing.T, cluster, ns string) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("namespace %s deleted in %s", ns, cluster), func(ctx context.Context) error {
		if n := get(t, cluster, gvrNamespaces, "", ns); n != nil && n.GetDeletionTimestamp() == nil {
			return fmt.Errorf("still there")
		}
		return nil
	})
}

// handMade creates a ConfigMap in a member as its user would, with kubectl's
// own context, and removes its namespace when the test ends.
func handMade(t *testing.T, cluster, ns, name string) {
	t.Helper()
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"note": "made by hand"},
	}}
	if _, err := dyn(cluster).Resource(gvrConfigMaps).Namespace(ns).Create(context.Background(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating configmap %s/%s in %s: %v", ns, name, cluster, err)
	}
	t.Cleanup(func() {
		err := dyn(cluster).Resource(gvrNamespaces).Delete(context.Background(), ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleaning up namespace %s in %s: %v", ns, cluster, err)
		}
	})
}

// TestDeleteRemovesCreatedNamespace applies a workload, its Service and a
// ConfigMap into a namespace no member has, lets the members' controllers
// fill it (ReplicaSets, Pods, EndpointSlices, the default ServiceAccount and
// kube-root-ca.crt), and deletes the objects: the namespace goes with them.
func TestDeleteRemovesCreatedNamespace(t *testing.T) {
	path := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns-gone}
data: {color: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns-gone}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: ns-gone}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`)
	res := fed(t, "apply", "-f", path)
	if !strings.Contains(res.Stdout, "created namespace ns-gone") {
		t.Fatalf("apply did not create the namespace:\n%s", res)
	}
	for _, c := range members {
		eventually(t, 60*time.Second, "pods of web in "+c, func(ctx context.Context) error {
			pods, err := dyn(c).Resource(gvrPods).Namespace("ns-gone").List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			if len(pods.Items) == 0 {
				return fmt.Errorf("no pod yet")
			}
			if get(t, c, gvrConfigMaps, "ns-gone", "kube-root-ca.crt") == nil {
				return fmt.Errorf("no kube-root-ca.crt yet")
			}
			slices, err := dyn(c).Resource(gvrEndpointSlices).Namespace("ns-gone").List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
			if err != nil {
				return err
			}
			if len(slices.Items) == 0 {
				return fmt.Errorf("no EndpointSlice for service web yet")
			}
			return nil
		})
	}
	res = fed(t, "delete", "-f", path)
	if got, want := rows(res.Stdout, "namespace/ns-gone"), []string{"eur deleted -", "jpn deleted -", "usa deleted -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows %v, want %v:\n%s", got, want, res.Stdout)
	}
	// Applied again at once, while the members are still deleting the
	// namespace: apply waits for it to go, and makes it anew.
	res = fed(t, "apply", "-f", path)
	if got, want := rows(res.Stdout, "ns-gone/configmap/settings"), []string{"eur created -", "jpn created -", "usa created -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("apply right after delete: %v, want %v:\n%s", got, want, res)
	}
	res = fed(t, "delete", "-f", path)
	if got, want := rows(res.Stdout, "namespace/ns-gone"), []string{"eur deleted -", "jpn deleted -", "usa deleted -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows %v, want %v:\n%s", got, want, res.Stdout)
	}
	for _, c := range members {
		namespaceGone(t, c, "ns-gone")
	}
}

// TestDeleteLeavesNamespaceWithForeignObject: a ConfigMap made by hand in
// one member keeps the namespace there, and the output says so; the other
// members' namespaces go. Then the same for kfed's own objects that the
// federation still places: the namespace stays until the last is deleted.
func TestDeleteLeavesNamespaceWithForeignObject(t *testing.T) {
	one := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns-keep}
data: {color: blue}
`)
	two := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: other, namespace: ns-keep}
data: {color: red}
`)
	fed(t, "apply", "-f", one)
	fed(t, "apply", "-f", two)
	handMade(t, "jpn", "ns-keep", "notes")

	// The federation still places configmap/other there.
	res := fed(t, "delete", "-f", one)
	want := []string{
		"eur left - it holds configmap/other, which the federation still places there",
		"jpn left - it holds configmap/notes, which kfed did not create; it holds configmap/other, which the federation still places there",
		"usa left - it holds configmap/other, which the federation still places there",
	}
	if got := namespaceRows(res.Stdout, "namespace/ns-keep"); !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows\n%v\nwant\n%v\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res.Stdout)
	}
	// The last of kfed's objects: eur and usa lose the namespace, jpn
	// keeps it for the hand-made ConfigMap.
	res = fed(t, "delete", "-f", two)
	want = []string{
		"eur deleted - apply created it; nothing but kfed's objects was left in it",
		"jpn left - it holds configmap/notes, which kfed did not create",
		"usa deleted - apply created it; nothing but kfed's objects was left in it",
	}
	if got := namespaceRows(res.Stdout, "namespace/ns-keep"); !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows\n%v\nwant\n%v\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), res.Stdout)
	}
	namespaceGone(t, "eur", "ns-keep")
	namespaceGone(t, "usa", "ns-keep")
	time.Sleep(2 * time.Second)
	if n := get(t, "jpn", gvrNamespaces, "", "ns-keep"); n == nil || n.GetDeletionTimestamp() != nil {
		t.Fatalf("namespace ns-keep is gone from jpn with the hand-made ConfigMap in it")
	}
	if get(t, "jpn", gvrConfigMaps, "ns-keep", "notes") == nil {
		t.Errorf("the hand-made ConfigMap is gone from jpn")
	}
	for _, name := range []string{"settings", "other"} {
		if get(t, "jpn", gvrConfigMaps, "ns-keep", name) != nil {
			t.Errorf("kfed's configmap %s is still in jpn", name)
		}
	}
}

// TestUnjoinDeleteResourcesLeavesNamespaceWithForeignObject unjoins jpn with
// --delete-resources: of two namespaces apply created there, the one with a
// hand-made ConfigMap stays, with it, and the output says so; the other
// goes. jpn joins again afterwards.
func TestUnjoinDeleteResourcesLeavesNamespaceWithForeignObject(t *testing.T) {
	path := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ns-unjoin-keep
  annotations: {kfed.dev/clusters: jpn}
data: {color: blue}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ns-unjoin-gone
  annotations: {kfed.dev/clusters: jpn}
data: {color: blue}
`)
	fed(t, "apply", "-f", path)
	handMade(t, "jpn", "ns-unjoin-keep", "notes")
	t.Cleanup(func() {
		// t's context is done by now: wait and join with one of its own.
		// Join waits for nothing: the namespace unjoin left to the
		// member's garbage collector must be gone first.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := framework.Poll(ctx, time.Minute, 250*time.Millisecond, func(ctx context.Context) error {
			_, err := dyn("jpn").Resource(gvrNamespaces).Get(ctx, "kfed-system", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("namespace kfed-system still in jpn (%v)", err)
		})
		if err != nil {
			t.Errorf("joining jpn again: %v", err)
			return
		}
		res, err := kubectl.Run(ctx, "fed", "join", "jpn", "--cluster-context", "jpn", "--context", hostCtx)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("joining jpn again: %v\n%s", err, res)
		}
		// The records unjoin took jpn out of place the objects nowhere
		// now; the next tests expect an empty inventory.
		res, err = kubectl.Run(ctx, "fed", "delete", "-f", path, "--context", hostCtx)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("forgetting the objects: %v\n%s", err, res)
		}
	})

	res := fed(t, "unjoin", "jpn", "--delete-resources")
	if !strings.Contains(res.Stdout, "namespace/ns-unjoin-keep left in jpn: it holds configmap/notes, which kfed did not create\n") {
		t.Errorf("unjoin does not say what it left:\n%s", res)
	}
	if strings.Contains(res.Stdout, "ns-unjoin-gone left") {
		t.Errorf("unjoin left the namespace holding only kfed's objects:\n%s", res)
	}
	namespaceGone(t, "jpn", "ns-unjoin-gone")
	if n := get(t, "jpn", gvrNamespaces, "", "ns-unjoin-keep"); n == nil || n.GetDeletionTimestamp() != nil {
		t.Fatalf("namespace ns-unjoin-keep is gone from jpn with the hand-made ConfigMap in it:\n%s", res)
	}
	if get(t, "jpn", gvrConfigMaps, "ns-unjoin-keep", "notes") == nil {
		t.Errorf("the hand-made ConfigMap is gone from jpn")
	}
	if get(t, "jpn", gvrConfigMaps, "ns-unjoin-keep", "settings") != nil {
		t.Errorf("kfed's configmap is still in jpn")
	}
}

// namespaceRows returns the result table's rows for one object as
// "CLUSTER ACTION REPLICAS MESSAGE", sorted by cluster.
func namespaceRows(out, object string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == object {
			got = append(got, strings.Join(f[1:], " "))
		}
	}
	return got
}

// TestPruneRemovesCreatedNamespace: apply --prune deletes what left the
// input, and with it the namespace apply created for it; the namespace of
// what stays in the input stays, without a word.
func TestPruneRemovesCreatedNamespace(t *testing.T) {
	both := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns-prune-a}
data: {color: blue}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns-prune-b}
data: {color: blue}
`)
	one := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns-prune-a}
data: {color: blue}
`)
	fed(t, "apply", "-f", both, "--applyset", "ns-prune")
	res := fed(t, "apply", "-f", one, "--applyset", "ns-prune", "--prune")
	if got, want := rows(res.Stdout, "namespace/ns-prune-b"), []string{"eur deleted -", "jpn deleted -", "usa deleted -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows %v, want %v:\n%s", got, want, res.Stdout)
	}
	if got := rows(res.Stdout, "namespace/ns-prune-a"); len(got) != 0 {
		t.Errorf("the namespace of what stays is reported: %v\n%s", got, res.Stdout)
	}
	for _, c := range members {
		namespaceGone(t, c, "ns-prune-b")
		if get(t, c, gvrConfigMaps, "ns-prune-a", "settings") == nil {
			t.Errorf("configmap ns-prune-a/settings is gone from %s", c)
		}
	}
	res = fed(t, "delete", "-f", one)
	if got, want := rows(res.Stdout, "namespace/ns-prune-a"), []string{"eur deleted -", "jpn deleted -", "usa deleted -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows %v, want %v:\n%s", got, want, res.Stdout)
	}
}

// TestSyncRemovesCreatedNamespace: a delete that could not reach jpn leaves
// the object there, pending, and the namespace with it; the sync that
// finishes the deletion removes the namespace too.
func TestSyncRemovesCreatedNamespace(t *testing.T) {
	path := manifest(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: ns-sync}
data: {color: blue}
`)
	fed(t, "apply", "-f", path)
	stopMember(t, "jpn")
	res := fedFail(t, "delete", "-f", path)
	if got, want := rows(res.Stdout, "namespace/ns-sync"), []string{"eur deleted -", "usa deleted -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows %v, want %v:\n%s", got, want, res.Stdout)
	}
	startMember(t, "jpn")
	if get(t, "jpn", gvrNamespaces, "", "ns-sync") == nil {
		t.Fatalf("jpn lost the namespace while it was down")
	}
	res = fed(t, "sync")
	if got, want := rows(res.Stdout, "namespace/ns-sync"), []string{"jpn deleted -"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace rows of sync %v, want %v:\n%s", got, want, res.Stdout)
	}
	namespaceGone(t, "jpn", "ns-sync")
}
