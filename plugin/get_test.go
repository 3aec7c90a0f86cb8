package plugin

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/aggregate"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

var (
	deployments = &meta.RESTMapping{
		Resource:         schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
		GroupVersionKind: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
		Scope:            meta.RESTScopeNamespace,
	}
	pods = &meta.RESTMapping{
		Resource:         schema.GroupVersionResource{Version: "v1", Resource: "pods"},
		GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Scope:            meta.RESTScopeNamespace,
	}
	services = &meta.RESTMapping{
		Resource:         schema.GroupVersionResource{Version: "v1", Resource: "services"},
		GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Service"},
		Scope:            meta.RESTScopeNamespace,
	}
	namespaces = &meta.RESTMapping{
		Resource:         schema.GroupVersionResource{Version: "v1", Resource: "namespaces"},
		GroupVersionKind: schema.GroupVersionKind{Version: "v1", Kind: "Namespace"},
		Scope:            meta.RESTScopeRoot,
	}
)

// The columns the API server's tables have for these types.
var (
	deploymentColumns = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Ready", Type: "string"},
		{Name: "Up-to-date", Type: "integer"},
		{Name: "Available", Type: "string"},
		{Name: "Age", Type: "string"},
		{Name: "Containers", Type: "string", Priority: 1},
		{Name: "Images", Type: "string", Priority: 1},
		{Name: "Selector", Type: "string", Priority: 1},
	}
	podColumns = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Ready", Type: "string"},
		{Name: "Status", Type: "string"},
		{Name: "Restarts", Type: "string"},
		{Name: "Age", Type: "string"},
		{Name: "IP", Type: "string", Priority: 1},
		{Name: "Node", Type: "string", Priority: 1},
	}
	serviceColumns = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Type", Type: "string"},
		{Name: "Cluster-IP", Type: "string"},
		{Name: "External-IP", Type: "string"},
		{Name: "Port(s)", Type: "string"},
		{Name: "Age", Type: "string"},
	}
	namespaceColumns = []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Status", Type: "string"},
		{Name: "Age", Type: "string"},
	}
)

// row is one row of a server table: the object's namespace, name and
// labels, and the cells.
type row struct {
	ns, name string
	labels   map[string]string
	cells    []any
}

// serverTable returns a Table as resource.Builder hands it over: an
// Unstructured of kind Table whose rows carry their object's metadata.
func serverTable(t *testing.T, cols []metav1.TableColumnDefinition, rows ...row) runtime.Object {
	t.Helper()
	tbl := &metav1.Table{ColumnDefinitions: cols}
	for _, r := range rows {
		m := metav1.PartialObjectMetadata{
			TypeMeta:   metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "PartialObjectMetadata"},
			ObjectMeta: metav1.ObjectMeta{Namespace: r.ns, Name: r.name, Labels: r.labels},
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		tbl.Rows = append(tbl.Rows, metav1.TableRow{Cells: r.cells, Object: runtime.RawExtension{Raw: raw}})
	}
	raw, err := json.Marshal(tbl)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetAPIVersion("meta.k8s.io/v1")
	u.SetKind("Table")
	return u
}

func answer(cluster string, infos ...*resource.Info) *aggregate.Answer {
	return &aggregate.Answer{Cluster: cluster, Infos: infos}
}

func info(m *meta.RESTMapping, obj runtime.Object) *resource.Info {
	return &resource.Info{Mapping: m, Object: obj}
}

// completeGetOptions returns GetOptions as Complete and Validate leave
// them for the given arguments and flags, writing to test streams.
func completeGetOptions(t *testing.T, args []string, flags ...string) (*GetOptions, *bytes.Buffer, *bytes.Buffer, error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	cf := genericclioptions.NewConfigFlags(false)
	cf.Namespace = ptr.To("shop")
	// Complete reads the kubeconfig for the namespace; -n decides it here.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cf.KubeConfig = &kubeconfig
	o := NewGetOptions(newHostFlags(cf), streams)
	o.now = func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	cmd := newCmdGet(o)
	if err := cmd.ParseFlags(flags); err != nil {
		t.Fatal(err)
	}
	err := o.Complete(cmd, args)
	if err == nil {
		err = o.Validate(cmd)
	}
	return o, out, errOut, err
}

// newTestGetOptions is completeGetOptions for flags that are valid.
func newTestGetOptions(t *testing.T, args []string, flags ...string) (*GetOptions, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	o, out, errOut, err := completeGetOptions(t, args, flags...)
	if err != nil {
		t.Fatal(err)
	}
	return o, out, errOut
}

func webDeployments(t *testing.T) []*aggregate.Answer {
	dep := func(name, ready string) row {
		return row{ns: "shop", name: name, cells: []any{name, ready, 5, 5, "3m", "web", "nginx:1.27", "app=web"}}
	}
	return []*aggregate.Answer{
		answer("usa", info(deployments, serverTable(t, deploymentColumns, dep("web", "5/5"), dep("api", "2/2")))),
		answer("jpn", info(deployments, serverTable(t, deploymentColumns, dep("api", "1/1")))),
		answer("eur", info(deployments, serverTable(t, deploymentColumns, dep("web", "4/5")))),
	}
}

func webRecords() *aggregate.Replicas {
	web := v1alpha1.FederatedObject{Spec: v1alpha1.FederatedObjectSpec{
		Federation: "magicring",
		Resource:   v1alpha1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"},
		Template:   &runtime.RawExtension{Raw: []byte(`{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":10}}`)},
	}}
	web.Status.Clusters = []v1alpha1.ClusterResult{
		{Name: "eur", Action: v1alpha1.ActionCreated, Replicas: ptr.To[int32](5)},
		{Name: "usa", Action: v1alpha1.ActionCreated, Replicas: ptr.To[int32](5)},
	}
	return aggregate.NewReplicas([]v1alpha1.FederatedObject{web})
}

func TestGetTableWithReplicas(t *testing.T) {
	o, out, errOut := newTestGetOptions(t, []string{"deployments"})
	if err := o.print(webDeployments(t), nil, webRecords()); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/deployments.txt", out.Bytes())
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestGetTableWithoutInventory(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deployments"}, "-o", "wide")
	if err := o.print(webDeployments(t), nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/deployments-wide.txt", out.Bytes())
}

func podAnswers(t *testing.T) []*aggregate.Answer {
	pod := func(ns, name, status string) row {
		return row{ns: ns, name: name, labels: map[string]string{"app": strings.Split(name, "-")[0]},
			cells: []any{name, "1/1", status, "0", "2m", "10.1.0.7", "node-1"}}
	}
	return []*aggregate.Answer{
		answer("usa", info(pods, serverTable(t, podColumns, pod("shop", "web-7d4b9-xk2lp", "Running"), pod("blog", "db-0", "Running")))),
		answer("eur", info(pods, serverTable(t, podColumns, pod("shop", "web-7d4b9-a8c2d", "Pending")))),
		// A second chunk of the same list.
		answer("eur", info(pods, serverTable(t, podColumns, pod("blog", "db-0", "Running")))),
	}
}

func TestGetAllNamespaces(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"pods"}, "-A")
	if err := o.print(podAnswers(t), nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/pods-all-namespaces.txt", out.Bytes())
}

func TestGetShowLabelsNoHeaders(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"pods"}, "--show-labels", "--no-headers")
	if err := o.print(podAnswers(t), nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/pods-show-labels.txt", out.Bytes())
}

func TestGetSeveralTypes(t *testing.T) {
	svc := row{ns: "shop", name: "web", cells: []any{"web", "ClusterIP", "10.96.0.10", "<none>", "80/TCP", "3m"}}
	answers := []*aggregate.Answer{
		answer("usa",
			info(deployments, serverTable(t, deploymentColumns, row{ns: "shop", name: "web", cells: []any{"web", "5/5", 5, 5, "3m"}})),
			info(services, serverTable(t, serviceColumns, svc))),
		answer("eur", info(services, serverTable(t, serviceColumns, svc))),
	}
	o, out, _ := newTestGetOptions(t, []string{"deploy,svc"})
	if err := o.print(answers, nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/several-types.txt", out.Bytes())
}

func TestGetClusterScopedIgnoresAllNamespaces(t *testing.T) {
	ns := func(name string) row { return row{name: name, cells: []any{name, "Active", "9d"}} }
	answers := []*aggregate.Answer{
		answer("usa", info(namespaces, serverTable(t, namespaceColumns, ns("shop"), ns("default")))),
		answer("eur", info(namespaces, serverTable(t, namespaceColumns, ns("shop")))),
	}
	o, out, _ := newTestGetOptions(t, []string{"namespaces"}, "-A")
	if err := o.print(answers, nil, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/namespaces.txt", out.Bytes())
}

func refused(server string) error {
	return &url.Error{Op: "Get", URL: server + "/api?timeout=10s", Err: syscall.ECONNREFUSED}
}

func TestGetFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		flags []string
		want  string
	}{
		{nil, nil, "you must specify the type of objects to get"},
		{[]string{"pods"}, []string{"--timeout=-1s"}, "--timeout must not be negative"},
		{[]string{"pods"}, []string{"-o", "yaml", "--no-headers"}, "--no-headers applies to tables and custom columns only, not to -o yaml"},
		{[]string{"pods"}, []string{"-o", "name", "--show-labels"}, "--show-labels and --label-columns apply to tables only, not to -o name"},
		{[]string{"pods"}, []string{"-o", "xml"}, `unable to match a printer suitable for the output format "xml"`},
	} {
		_, _, _, err := completeGetOptions(t, tc.args, tc.flags...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want %q", tc.args, tc.flags, err, tc.want)
		}
	}
}

func TestGetSortByAcrossMembers(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deployments"}, "--sort-by", "{.metadata.name}")
	if err := o.print(webDeployments(t), nil, webRecords()); err != nil {
		t.Fatal(err)
	}
	golden(t, "get/deployments-sorted.txt", out.Bytes())

	answers := append(objectAnswers(), answer("jpn", info(deployments, object("apps/v1", "Deployment", "shop", "api", map[string]any{"replicas": int64(2)}))))
	answers[1].Infos[0].Object.(*unstructured.Unstructured).Object["spec"] = map[string]any{"replicas": int64(3)}
	o, out, _ = newTestGetOptions(t, []string{"deploy"}, "-o", "name", "--sort-by", ".spec.replicas")
	if err := o.print(answers, nil, nil); err != nil {
		t.Fatal(err)
	}
	// jpn 2, eur 3, usa 5.
	if want := "jpn/deployment.apps/api\neur/deployment.apps/web\nusa/deployment.apps/web\n"; out.String() != want {
		t.Errorf("-o name --sort-by .spec.replicas:\n%s\nwant:\n%s", out, want)
	}
}
