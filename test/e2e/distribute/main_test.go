//go:build e2e

// Package distribute tests `kubectl fed apply`, `delete`, `diff`, `sync`
// and `rebalance` end to end: the real kubectl runs the plugin against a lab
// of three real clusters joined into one federation, and every outcome is
// read back from every member with client-go.
//
// The tests share the lab and the federation and run one after another;
// each works in namespaces of its own.
package distribute

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

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
	os.Exit(framework.RunFederated(m, "distribute", hostCtx, members, func(l *lab.Lab, k *framework.Kubectl) {
		testLab, kubectl = l, k
	}))
}

// fed runs `kubectl fed ARGS --context usa`, which must succeed.
func fed(t *testing.T, args ...string) framework.Result {
	t.Helper()
	return kubectl.Succeed(t, append(append([]string{"fed"}, args...), "--context", hostCtx)...)
}

// fedFail runs `kubectl fed ARGS --context usa`, which must fail.
func fedFail(t *testing.T, args ...string) framework.Result {
	t.Helper()
	return kubectl.Fail(t, append(append([]string{"fed"}, args...), "--context", hostCtx)...)
}

// manifest writes YAML to a file of the test's and returns its path.
func manifest(t *testing.T, yaml string) string {
	t.Helper()
	path := fmt.Sprintf("%s/%d.yaml", t.TempDir(), time.Now().UnixNano())
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func dyn(cluster string) dynamic.Interface {
	return dynamic.NewForConfigOrDie(testLab.Cluster(cluster).RESTConfig())
}

var (
	gvrNamespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrSecrets     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrServices    = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrDeployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrDaemonSets  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	gvrIngresses   = schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}
)

// get reads an object from a member; nil when it does not exist.
func get(t *testing.T, cluster string, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var ri dynamic.ResourceInterface = dyn(cluster).Resource(gvr)
	if ns != "" {
		ri = dyn(cluster).Resource(gvr).Namespace(ns)
	}
	obj, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("%s: reading %s %s/%s: %v", cluster, gvr.Resource, ns, name, err)
	}
	return obj
}

// replicasIn returns spec.replicas of a Deployment in each member that has it.
func replicasIn(t *testing.T, ns, name string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, c := range members {
		if d := get(t, c, gvrDeployments, ns, name); d != nil {
			n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
			out[c] = n
		}
	}
	return out
}

// eventually fails the test unless check passes within timeout.
func eventually(t *testing.T, timeout time.Duration, what string, check func(ctx context.Context) error) {
	t.Helper()
	framework.Eventually(t, timeout, 250*time.Millisecond, what, check)
}

// stopMember stops a member's API server until the test ends.
func stopMember(t *testing.T, name string) {
	t.Helper()
	c := testLab.Cluster(name)
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { startMember(t, name) })
}

func startMember(t *testing.T, name string) {
	t.Helper()
	c := testLab.Cluster(name)
	if c.APIServerRunning() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatalf("restarting %s: %v", name, err)
	}
}

// rows returns the result table's rows for one object, as "CLUSTER ACTION
// REPLICAS", sorted.
func rows(out, object string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == object {
			got = append(got, strings.Join(f[1:4], " "))
		}
	}
	sort.Strings(got)
	return got
}

func dynamicFor(t *testing.T, c *lab.Cluster) dynamic.Interface {
	t.Helper()
	return dynamic.NewForConfigOrDie(c.RESTConfig())
}
