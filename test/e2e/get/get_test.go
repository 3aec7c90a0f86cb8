//go:build e2e

package get

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// hello makes, directly in a member, a Deployment of n replicas labelled
// app=hello.
func hello(t *testing.T, cluster, ns string, n int) {
	t.Helper()
	create(t, cluster, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: %s, labels: {app: hello}}
spec:
  replicas: %d
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      containers: [{name: hello, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
`, ns, n))
}

// TestGetPodsAllNamespaces reads pods of Deployments made directly in each
// member: one table, CLUSTER then NAMESPACE, sorted by cluster.
func TestGetPodsAllNamespaces(t *testing.T) {
	namespace(t, "direct")
	want := map[string]int{"eur": 1, "jpn": 2, "usa": 3}
	for c, n := range want {
		hello(t, c, "direct", n)
	}
	for c, n := range want {
		runningPods(t, c, "direct", "app=hello", n)
	}

	res := fedGet(t, "pods", "-A")
	tbl := parseTable(res.Stdout)
	if got := tbl.header[:4]; !reflect.DeepEqual(got, []string{"CLUSTER", "NAMESPACE", "NAME", "READY"}) {
		t.Errorf("header %v, want CLUSTER NAMESPACE NAME READY first", tbl.header)
	}
	clusters := tbl.column("CLUSTER")
	if !slices.IsSorted(clusters) {
		t.Errorf("rows not sorted by cluster: %v", clusters)
	}
	count := map[string]int{}
	for _, r := range tbl.rows {
		if r[1] == "direct" && strings.HasPrefix(r[2], "hello-") {
			count[r[0]]++
			if r[4] != "Running" {
				t.Errorf("%s: pod %s is %s", r[0], r[2], r[4])
			}
		}
	}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("hello pods per cluster %v, want %v", count, want)
	}

	// -n, and the wide columns of the servers' tables.
	res = fedGet(t, "pods", "-n", "direct", "-o", "wide")
	tbl = parseTable(res.Stdout)
	if tbl.header[0] != "CLUSTER" || tbl.header[1] != "NAME" || !slices.Contains(tbl.header, "NODE") {
		t.Errorf("-o wide header %v, want CLUSTER NAME ... NODE", tbl.header)
	}
	if len(tbl.rows) != 6 {
		t.Errorf("-n direct: %d rows, want 6", len(tbl.rows))
	}
}

// TestGetSelectorAndClusters restricts by label and by member, with -o
// name.
func TestGetSelectorAndClusters(t *testing.T) {
	namespace(t, "direct")
	for _, c := range members {
		hello(t, c, "direct", 1)
		create(t, c, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: other, namespace: direct, labels: {app: other}},
spec: {replicas: 0, selector: {matchLabels: {app: other}}, template: {metadata: {labels: {app: other}}, spec: {containers: [{name: c, image: x}]}}}}`)
	}
	res := fedGet(t, "deploy", "-n", "direct", "-l", "app=hello", "--clusters", "usa,eur", "-o", "name")
	if want := "eur/deployment.apps/hello\nusa/deployment.apps/hello\n"; res.Stdout != want {
		t.Errorf("stdout %q, want %q", res.Stdout, want)
	}
	res = fedGet(t, "deployments.apps", "-n", "direct", "--clusters", "jpn")
	if got := parseTable(res.Stdout).column("NAME"); !reflect.DeepEqual(got, []string{"hello", "other"}) {
		t.Errorf("names in jpn %v, want hello other", got)
	}

	res = fedGetFail(t, "deploy", "-n", "direct", "--clusters", "usa,mars")
	if !strings.Contains(res.Stderr, `error: not members of federation "magicring": mars`) {
		t.Errorf("stderr %q", res.Stderr)
	}
}

// TestGetByName reads a named object that only some members have, as YAML
// whose items say which member they came from.
func TestGetByName(t *testing.T) {
	namespace(t, "direct")
	for _, c := range []string{"usa", "jpn"} {
		create(t, c, `{apiVersion: v1, kind: ConfigMap, metadata: {name: settings, namespace: direct}, data: {where: `+c+`}}`)
	}
	res := fedGet(t, "configmap", "settings", "-n", "direct", "-o", "yaml")
	var list struct {
		Kind  string                      `json:"kind"`
		Items []unstructured.Unstructured `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(res.Stdout), &list); err != nil {
		t.Fatalf("-o yaml: %v", err)
	}
	var got []string
	for _, it := range list.Items {
		where, _, _ := unstructured.NestedString(it.Object, "data", "where")
		got = append(got, it.GetAnnotations()["kfed.dev/cluster"]+"="+where)
		if len(it.GetManagedFields()) > 0 {
			t.Errorf("%s: managedFields printed", it.GetAnnotations()["kfed.dev/cluster"])
		}
	}
	if list.Kind != "List" || !reflect.DeepEqual(got, []string{"jpn=jpn", "usa=usa"}) {
		t.Errorf("kind %s, items %v; want a List of jpn and usa", list.Kind, got)
	}
	if res.Stderr != "" {
		t.Errorf("stderr %q: a member without the object is no failure", res.Stderr)
	}
	// The annotation is added on output only.
	cm, err := testLab.Cluster("usa").Client().CoreV1().ConfigMaps("direct").Get(context.Background(), "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cm.Annotations["kfed.dev/cluster"]; ok {
		t.Error("the annotation was written to the member")
	}

	res = fedGet(t, "cm/settings", "-n", "direct", "-o", "jsonpath={.items[*].metadata.annotations.kfed\\.dev/cluster}")
	if res.Stdout != "jpn usa" {
		t.Errorf("jsonpath: %q", res.Stdout)
	}

	res = fedGetFail(t, "configmap", "nowhere", "-n", "direct")
	if want := "error: configmaps \"nowhere\" not found in any cluster\n"; res.Stderr != want || res.ExitCode != 1 {
		t.Errorf("exit %d, stderr %q; want 1, %q", res.ExitCode, res.Stderr, want)
	}
	res = fedGet(t, "configmap", "nowhere", "-n", "direct", "--ignore-not-found")
	if res.Stdout+res.Stderr != "" {
		t.Errorf("--ignore-not-found: stdout %q, stderr %q; want nothing", res.Stdout, res.Stderr)
	}
}

// TestGetCompletesTypes offers the resource types the host serves.
func TestGetCompletesTypes(t *testing.T) {
	out, err := exec.Command("kubectl-fed", "__complete", "get", "--kubeconfig", testLab.Kubeconfig, "--context", hostCtx, "deployments").Output()
	if err != nil {
		t.Fatalf("completion: %v", err)
	}
	if lines := strings.Split(string(out), "\n"); !slices.Contains(lines, "deployments.apps") {
		t.Errorf("completion of deployments:\n%s", out)
	}
}

const crd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              cronSpec: {type: string}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
`

// TestGetCustomResource reads a custom resource that two members serve; the
// third does not know the type, is reported, and the command fails.
func TestGetCustomResource(t *testing.T) {
	// The CronTabs of the CRD this test makes are no kind kfed-manager
	// knew at join.
	kubectl.WithManagerRole(t, hostCtx, members, "cluster-admin")
	namespace(t, "direct")
	for _, c := range []string{"usa", "eur"} {
		create(t, c, crd)
		eventually(t, 30*time.Second, c+" serves crontabs", func(ctx context.Context) error {
			_, err := dyn(c).Resource(resources[schema.GroupKind{Group: "stable.example.com", Kind: "CronTab"}]).Namespace("direct").List(ctx, metav1.ListOptions{})
			return err
		})
		create(t, c, `{apiVersion: stable.example.com/v1, kind: CronTab, metadata: {name: nightly, namespace: direct}, spec: {cronSpec: "@daily"}}`)
	}
	for _, typ := range []string{"crontabs.stable.example.com", "ct", "crontab"} {
		res := fedGetFail(t, typ, "-n", "direct")
		tbl := parseTable(res.Stdout)
		if !reflect.DeepEqual(tbl.header, []string{"CLUSTER", "NAME", "SPEC", "AGE"}) {
			t.Errorf("%s: header %v, want the CRD's printer columns after CLUSTER", typ, tbl.header)
		}
		if !reflect.DeepEqual(tbl.column("CLUSTER"), []string{"eur", "usa"}) {
			t.Errorf("%s: clusters %v, want eur usa", typ, tbl.column("CLUSTER"))
		}
		if r := tbl.row("usa", "nightly"); r == nil || r["SPEC"] != "@daily" {
			t.Errorf("%s: usa row %v", typ, r)
		}
		if !strings.HasPrefix(res.Stderr, "error: cluster jpn: the server doesn't have a resource type") || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("%s: stderr %q, want one error for jpn", typ, res.Stderr)
		}
	}
	fedGet(t, "ct", "-n", "direct", "--clusters", "usa,eur")
}

// TestGetFederatedWorkload shows, for a Deployment that kubectl fed apply
// split over two members, the federation's replicas and each member's share
// next to the member's own READY.
func TestGetFederatedWorkload(t *testing.T) {
	path := t.TempDir() + "/web.yaml"
	manifest := `
apiVersion: v1
kind: Namespace
metadata: {name: fedshop}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: fedshop
  annotations: {kfed.dev/clusters: "usa,eur"}
spec:
  replicas: 10
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "registry.k8s.io/e2e-test-images/agnhost:2.53"}]
`
	if err := os.WriteFile(path, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "apply", "-f", path, "--context", hostCtx)
	// A Deployment of the same name made directly in jpn is live, not
	// federated: it has no share.
	hello(t, "jpn", "fedshop", 1)
	for _, c := range []string{"usa", "eur"} {
		runningPods(t, c, "fedshop", "app=web", 5)
	}

	eventually(t, 60*time.Second, "READY 5/5 in usa and eur", func(context.Context) error {
		res, err := kubectl.Run(context.Background(), "fed", "get", "deploy", "-n", "fedshop", "--context", hostCtx)
		if err != nil {
			return err
		}
		tbl := parseTable(res.Stdout)
		if want := []string{"CLUSTER", "NAME", "DESIRED", "PLACED", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}; !reflect.DeepEqual(tbl.header, want) {
			return fmt.Errorf("header %v, want %v\n%s", tbl.header, want, res)
		}
		for _, c := range []string{"eur", "usa"} {
			r := tbl.row(c, "web")
			if r == nil || r["DESIRED"] != "10" || r["PLACED"] != "5" || r["READY"] != "5/5" {
				return fmt.Errorf("%s: row %v, want DESIRED 10, PLACED 5, READY 5/5", c, r)
			}
		}
		if r := tbl.row("jpn", "hello"); r == nil || r["DESIRED"] != "<none>" || r["PLACED"] != "<none>" {
			return fmt.Errorf("jpn: row %v, want hello without a share", r)
		}
		return nil
	})

	res := fedGet(t, "deploy", "web", "-n", "fedshop", "-o", "yaml")
	var list struct {
		Items []unstructured.Unstructured `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(res.Stdout), &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range list.Items {
		n, _, _ := unstructured.NestedInt64(it.Object, "spec", "replicas")
		got = append(got, fmt.Sprintf("%s=%d", it.GetAnnotations()["kfed.dev/cluster"], n))
	}
	if !reflect.DeepEqual(got, []string{"eur=5", "usa=5"}) {
		t.Errorf("deploy web -o yaml: %v, want eur=5 usa=5", got)
	}

	// A host whose CRD cannot select records by kind, as one that an
	// older kubectl fed init set up, still gives the shares: the records
	// are then read with one list of all.
	crd := []string{"patch", "crd", "federatedobjects.kfed.dev", "--context", hostCtx, "--type", "json", "-p"}
	kubectl.Succeed(t, append(crd, `[{"op":"test","path":"/spec/versions/0/selectableFields/2/jsonPath","value":".spec.resource.kind"},`+
		`{"op":"remove","path":"/spec/versions/0/selectableFields/2"}]`)...)
	t.Cleanup(func() {
		// The test's context is done by now.
		res, err := kubectl.Run(context.Background(), append(crd, `[{"op":"add","path":"/spec/versions/0/selectableFields/-","value":{"jsonPath":".spec.resource.kind"}}]`)...)
		if err != nil || res.ExitCode != 0 {
			t.Errorf("restoring the CRD's selection by kind: %v\n%s", err, res)
		}
	})
	eventually(t, 30*time.Second, "the shares without selection by kind", func(context.Context) error {
		sel, err := kubectl.Run(context.Background(), "get", "federatedobjects", "-n", "kfed-system", "--context", hostCtx,
			"--field-selector", "spec.resource.kind=Deployment")
		if err != nil {
			return err
		}
		if sel.ExitCode == 0 {
			return fmt.Errorf("the host still selects records by kind")
		}
		res, err := kubectl.Run(context.Background(), "fed", "get", "deploy", "-n", "fedshop", "--context", hostCtx)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s", res)
		}
		if r := parseTable(res.Stdout).row("usa", "web"); r == nil || r["DESIRED"] != "10" || r["PLACED"] != "5" {
			return fmt.Errorf("usa: row %v, want DESIRED 10, PLACED 5\n%s", r, res)
		}
		return nil
	})
}

// TestGetMemberDown stops a member: it is reported with its error, the
// others are still shown, and the command exits 1, within the timeout.
func TestGetMemberDown(t *testing.T) {
	namespace(t, "direct")
	for _, c := range members {
		create(t, c, `{apiVersion: v1, kind: ConfigMap, metadata: {name: down, namespace: direct}}`)
	}
	stopMember(t, "jpn")
	eventually(t, 30*time.Second, "jpn stopped", func(ctx context.Context) error {
		_, err := testLab.Cluster("jpn").Client().Discovery().ServerVersion()
		if err == nil {
			return fmt.Errorf("jpn still answers")
		}
		return nil
	})

	begin := time.Now()
	res := fedGetFail(t, "configmaps", "down", "-n", "direct", "--timeout", "5s")
	if took := time.Since(begin); took > 15*time.Second {
		t.Errorf("took %s with a 5s timeout", took)
	}
	if res.ExitCode != 1 {
		t.Errorf("exit %d, want 1", res.ExitCode)
	}
	if got := parseTable(res.Stdout).column("CLUSTER"); !reflect.DeepEqual(got, []string{"eur", "usa"}) {
		t.Errorf("clusters shown %v, want eur usa", got)
	}
	if !strings.HasPrefix(res.Stderr, "error: cluster jpn: ") || strings.Count(res.Stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one error for jpn", res.Stderr)
	}
	for _, secret := range []string{"token", "BEGIN CERTIFICATE"} {
		if strings.Contains(res.Stderr, secret) {
			t.Errorf("stderr shows %q", secret)
		}
	}

	// Unless that member is left out.
	fedGet(t, "configmaps", "down", "-n", "direct", "--clusters", "usa,eur")
}
