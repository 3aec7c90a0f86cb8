package aggregate

import (
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

func object(ns, name string) runtime.RawExtension {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("meta.k8s.io/v1")
	u.SetKind("PartialObjectMetadata")
	u.SetNamespace(ns)
	u.SetName(name)
	return runtime.RawExtension{Object: u}
}

func podTable(rows ...[3]string) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Status", Type: "string"},
	}}
	for _, r := range rows {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{r[1], r[2]}, Object: object(r[0], r[1])})
	}
	return t
}

func cells(t *metav1.Table) [][]any {
	var out [][]any
	for _, r := range t.Rows {
		out = append(out, r.Cells)
	}
	return out
}

func columns(t *metav1.Table) []string {
	var out []string
	for _, c := range t.ColumnDefinitions {
		out = append(out, c.Name)
	}
	return out
}

func TestMergeSortsByClusterNamespaceName(t *testing.T) {
	merged := Merge([]Part{
		{Cluster: "usa", Table: podTable([3]string{"web", "b", "Running"}, [3]string{"db", "z", "Running"})},
		{Cluster: "eur", Table: podTable([3]string{"web", "a", "Pending"}, [3]string{"web", "0", "Running"})},
	}, true)
	if got, want := columns(merged), []string{"Cluster", "Namespace", "Name", "Status"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	want := [][]any{
		{"eur", "web", "0", "Running"},
		{"eur", "web", "a", "Pending"},
		{"usa", "db", "z", "Running"},
		{"usa", "web", "b", "Running"},
	}
	if got := cells(merged); !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestMergeLinesUpDifferentColumns(t *testing.T) {
	older := podTable([3]string{"", "a", "Running"})
	newer := &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Ready", Type: "string"},
			{Name: "Status", Type: "string"},
		},
		Rows: []metav1.TableRow{{Cells: []any{"b", "1/1", "Running"}, Object: object("", "b")}},
	}
	merged := Merge([]Part{{Cluster: "eur", Table: older}, {Cluster: "usa", Table: newer}}, false)
	if got, want := columns(merged), []string{"Cluster", "Name", "Status", "Ready"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	want := [][]any{
		{"eur", "a", "Running", ""},
		{"usa", "b", "Running", "1/1"},
	}
	if got := cells(merged); !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestMergeWithoutRowObjectsSortsByNameCell(t *testing.T) {
	tbl := podTable()
	tbl.Rows = []metav1.TableRow{{Cells: []any{"b", "x"}}, {Cells: []any{"a", "y"}}}
	merged := Merge([]Part{{Cluster: "usa", Table: tbl}}, false)
	want := [][]any{{"usa", "a", "y"}, {"usa", "b", "x"}}
	if got := cells(merged); !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestInsertColumnsAfterName(t *testing.T) {
	tbl := podTable([3]string{"", "a", "Running"})
	InsertColumns(tbl, []metav1.TableColumnDefinition{{Name: "X"}, {Name: "Y"}}, func(*metav1.TableRow) []any { return []any{1, 2} })
	if got, want := columns(tbl), []string{"Name", "X", "Y", "Status"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if got, want := cells(tbl), [][]any{{"a", 1, 2, "Running"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}

func TestTableOf(t *testing.T) {
	in := podTable([3]string{"default", "a", "Running"})
	in.Rows[0].Object = runtime.RawExtension{Raw: []byte(`{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"a","namespace":"default"}}`)}
	in.Rows[0].Conditions = []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue}}
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(in)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: content}
	u.SetAPIVersion("meta.k8s.io/v1")
	u.SetKind("Table")
	got, ok, err := TableOf(u)
	if err != nil || !ok {
		t.Fatalf("TableOf = %v, %v", ok, err)
	}
	m, ok := RowObject(&got.Rows[0])
	if !ok || m.GetNamespace() != "default" || m.GetName() != "a" {
		t.Errorf("row object = %v", got.Rows[0].Object.Object)
	}
	if !reflect.DeepEqual(got.ColumnDefinitions, in.ColumnDefinitions) {
		t.Errorf("columns = %v, want %v", got.ColumnDefinitions, in.ColumnDefinitions)
	}
	if want := [][]any{{"a", "Running"}}; !reflect.DeepEqual(cells(got), want) {
		t.Errorf("cells = %v, want %v", cells(got), want)
	}
	if c := got.Rows[0].Conditions; len(c) != 1 || c[0].Type != metav1.RowCompleted || c[0].Status != metav1.ConditionTrue {
		t.Errorf("conditions = %v", c)
	}

	pod := &unstructured.Unstructured{}
	pod.SetAPIVersion("v1")
	pod.SetKind("Pod")
	if _, ok, err := TableOf(pod); ok || err != nil {
		t.Errorf("TableOf(pod) = %v, %v; want not a table", ok, err)
	}
}

func TestDefaultTable(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	obj := &unstructured.Unstructured{}
	obj.SetName("a")
	obj.SetCreationTimestamp(metav1.NewTime(now.Add(-90 * time.Minute)))
	got := DefaultTable([]runtime.Object{obj}, now)
	if want := [][]any{{"a", "90m"}}; !reflect.DeepEqual(cells(got), want) {
		t.Errorf("rows = %v, want %v", cells(got), want)
	}
}

func TestColumnsKeepTheirLayout(t *testing.T) {
	c := NewColumns(true)
	c.Add(podTable())
	// A later row of a member whose table has a column more and one less
	// lines up under the first header: the unknown column is left out.
	later := &metav1.Table{
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Ready", Type: "string"},
		},
		Rows: []metav1.TableRow{{Cells: []any{"b", "1/1"}, Object: object("web", "b")}},
	}
	merged := c.Merge([]Part{{Cluster: "jpn", Table: later}})
	if got, want := columns(merged), []string{"Cluster", "Namespace", "Name", "Status"}; !reflect.DeepEqual(got, want) {
		t.Errorf("columns = %v, want %v", got, want)
	}
	if got, want := cells(merged), [][]any{{"jpn", "web", "b", ""}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows = %v, want %v", got, want)
	}
}
