//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestWalkthrough pushes through the federation what the old federation's
// walkthroughs pushed, checks it in every member, and deletes it again.
func TestWalkthrough(t *testing.T) {
	path := manifest(t, `
apiVersion: v1
kind: Namespace
metadata:
  name: walk
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: walk}
data: {color: blue}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: walk}
stringData: {password: s3cret}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: walk
  annotations:
    kfed.dev/clusters: usa,eur
spec:
  replicas: 10
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: walk}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: walk}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 8080}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: walk}
spec:
  defaultBackend:
    service: {name: web, port: {number: 8080}}
`)
	res := fed(t, "apply", "-f", path)
	if got := rows(res.Stdout, "walk/deployment.apps/web"); !reflect.DeepEqual(got, []string{"eur created 5", "usa created 5"}) {
		t.Errorf("deployment rows %v, want 5 and 5 created in eur and usa", got)
	}
	for _, c := range members {
		for _, o := range []struct {
			what string
			obj  *unstructured.Unstructured
		}{
			{"namespace walk", get(t, c, gvrNamespaces, "", "walk")},
			{"configmap settings", get(t, c, gvrConfigMaps, "walk", "settings")},
			{"secret creds", get(t, c, gvrSecrets, "walk", "creds")},
			{"daemonset agent", get(t, c, gvrDaemonSets, "walk", "agent")},
			{"service web", get(t, c, gvrServices, "walk", "web")},
			{"ingress web", get(t, c, gvrIngresses, "walk", "web")},
		} {
			if o.obj == nil {
				t.Errorf("%s: %s missing", c, o.what)
				continue
			}
			if l := o.obj.GetLabels(); l["kfed.dev/federation"] != "magicring" || l["app.kubernetes.io/managed-by"] != "kubectl-fed" {
				t.Errorf("%s: %s lacks kfed's labels: %v", c, o.what, l)
			}
			if a := o.obj.GetAnnotations(); a["kfed.dev/clusters"] != "" {
				t.Errorf("%s: %s carries the placement annotation into the member", c, o.what)
			}
		}
		if s := get(t, c, gvrSecrets, "walk", "creds"); s != nil {
			if v, _, _ := unstructured.NestedString(s.Object, "data", "password"); v != "czNjcmV0" {
				t.Errorf("%s: secret data %q", c, v)
			}
		}
	}
	if d := get(t, "jpn", gvrDeployments, "walk", "web"); d != nil {
		t.Errorf("jpn got the deployment its placement leaves out")
	}
	// Running pods: 5 and 5 of the Deployment, and a DaemonSet pod on each
	// of the 3 nodes of every cluster.
	for _, c := range members {
		want := map[string]int{"app=agent": 3}
		if c != "jpn" {
			want["app=web"] = 5
		}
		for sel, n := range want {
			eventually(t, 90*time.Second, fmt.Sprintf("%d Running pods %s in %s", n, sel, c), func(ctx context.Context) error {
				pods, err := dyn(c).Resource(gvrPods).Namespace("walk").List(ctx, metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					return err
				}
				running, nodes := 0, map[string]bool{}
				for _, p := range pods.Items {
					phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
					node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName")
					if phase == "Running" {
						running++
						nodes[node] = true
					}
				}
				if running != n {
					return fmt.Errorf("%d Running", running)
				}
				if sel == "app=agent" && len(nodes) != 3 {
					return fmt.Errorf("daemon pods on %d nodes", len(nodes))
				}
				return nil
			})
		}
	}
	// The host can list them all at once.
	list := kubectl.Succeed(t, "get", "federatedobjects", "-n", "kfed-system", "--context", hostCtx)
	for _, want := range []string{"Namespace", "ConfigMap", "Secret", "Deployment", "DaemonSet", "Service", "Ingress"} {
		if !contains(list.Stdout, want) {
			t.Errorf("inventory lacks a %s:\n%s", want, list.Stdout)
		}
	}

	// Delete: everything is gone everywhere, nothing left Terminating.
	fed(t, "delete", "-f", path)
	for _, c := range members {
		eventually(t, 60*time.Second, "namespace walk gone from "+c, func(ctx context.Context) error {
			if get(t, c, gvrNamespaces, "", "walk") != nil {
				return fmt.Errorf("still there")
			}
			return nil
		})
	}
	list = kubectl.Succeed(t, "get", "federatedobjects", "-n", "kfed-system", "--context", hostCtx, "-o", "name")
	if contains(list.Stdout, "-walk") || contains(list.Stdout, "settings") || contains(list.Stdout, "creds") {
		t.Errorf("inventory still holds the deleted objects:\n%s", list.Stdout)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
