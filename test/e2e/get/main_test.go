//go:build e2e

// Package get tests `kubectl fed get` end to end: the real kubectl runs the
// plugin against a lab of three real clusters joined into one federation.
// Objects are made in the members with client-go, as users and other tools
// make them, and the test checks what `kubectl fed get` shows of them.
//
// The tests share the lab and the federation and run one after another;
// a test that stops a member starts it again before it ends.
package get

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const hostCtx = "usa"

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
	members = []string{"eur", "jpn", "usa"}
)

func TestMain(m *testing.M) {
	os.Exit(framework.RunFederated(m, "get", hostCtx, members, func(l *lab.Lab, k *framework.Kubectl) {
		testLab, kubectl = l, k
	}))
}

// fedGet runs `kubectl fed get ARGS --context usa`, which must succeed.
func fedGet(t *testing.T, args ...string) framework.Result {
	t.Helper()
	return kubectl.Succeed(t, append(append([]string{"fed", "get"}, args...), "--context", hostCtx)...)
}

// fedGetFail runs `kubectl fed get ARGS --context usa`, which must fail.
func fedGetFail(t *testing.T, args ...string) framework.Result {
	t.Helper()
	return kubectl.Fail(t, append(append([]string{"fed", "get"}, args...), "--context", hostCtx)...)
}

func dyn(cluster string) dynamic.Interface {
	return dynamic.NewForConfigOrDie(testLab.Cluster(cluster).RESTConfig())
}

// create makes an object from YAML in a member, directly with client-go.
func create(t *testing.T, cluster, manifest string) {
	t.Helper()
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		t.Fatal(err)
	}
	gvk := obj.GroupVersionKind()
	gvr, ok := resources[gvk.GroupKind()]
	if !ok {
		t.Fatalf("no resource known for %v", gvk)
	}
	var ri dynamic.ResourceInterface = dyn(cluster).Resource(gvr)
	if ns := obj.GetNamespace(); ns != "" {
		ri = dyn(cluster).Resource(gvr).Namespace(ns)
	}
	_, err := ri.Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("%s: creating %s %s: %v", cluster, gvk.Kind, obj.GetName(), err)
	}
}

var resources = map[schema.GroupKind]schema.GroupVersionResource{
	{Kind: "Namespace"}:                 {Version: "v1", Resource: "namespaces"},
	{Kind: "ConfigMap"}:                 {Version: "v1", Resource: "configmaps"},
	{Kind: "Pod"}:                       {Version: "v1", Resource: "pods"},
	{Group: "apps", Kind: "Deployment"}: {Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: {
		Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
	{Group: "stable.example.com", Kind: "CronTab"}: {Group: "stable.example.com", Version: "v1", Resource: "crontabs"},
}

// namespace makes a namespace in every member.
func namespace(t *testing.T, name string) {
	t.Helper()
	for _, c := range members {
		create(t, c, "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+name+"}")
	}
}

// eventually fails the test unless check passes within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	framework.Eventually(t, timeout, 250*time.Millisecond, what, check)
}

// runningPods waits until a member runs n pods matching selector.
func runningPods(t *testing.T, cluster, ns, selector string, n int) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("%d Running pods %s in %s", n, selector, cluster), func(ctx context.Context) error {
		pods, err := testLab.Cluster(cluster).Client().CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running != n {
			return fmt.Errorf("%d of %d Running", running, len(pods.Items))
		}
		return nil
	})
}

// table is `kubectl fed get` output split into a header and rows of
// fields.
type table struct {
	header []string
	rows   [][]string
}

func parseTable(out string) table {
	var t table
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if i == 0 {
			t.header = strings.Fields(line)
			continue
		}
		t.rows = append(t.rows, strings.Fields(line))
	}
	return t
}

// column returns the values of a column, in row order.
func (t table) column(name string) []string {
	for i, h := range t.header {
		if h == name {
			var out []string
			for _, r := range t.rows {
				out = append(out, r[i])
			}
			return out
		}
	}
	return nil
}

// row returns the row of the object name in cluster, as column -> value.
func (t table) row(cluster, name string) map[string]string {
	ci, ni := -1, -1
	for i, h := range t.header {
		switch h {
		case "CLUSTER":
			ci = i
		case "NAME":
			ni = i
		}
	}
	for _, r := range t.rows {
		if r[ci] == cluster && r[ni] == name {
			out := map[string]string{}
			for i, h := range t.header {
				out[h] = r[i]
			}
			return out
		}
	}
	return nil
}

// stopMember stops a member's API server until the test ends.
func stopMember(t *testing.T, name string) {
	t.Helper()
	c := testLab.Cluster(name)
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.APIServerRunning() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.StartAPIServer(ctx); err != nil {
			t.Errorf("restarting %s: %v", name, err)
		}
	})
}
