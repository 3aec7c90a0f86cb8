package aggregate

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// configMap returns an object with data as its fields, in a row of a
// member's table.
func configMap(name string, data map[string]any) runtime.RawExtension {
	u := &unstructured.Unstructured{Object: map[string]any{"data": data}}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetName(name)
	return runtime.RawExtension{Object: u}
}

func configMaps(cluster string, rows map[string]map[string]any) Part {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{{Name: "Name", Type: "string", Format: "name"}}}
	for name, data := range rows {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{name}, Object: configMap(name, data)})
	}
	return Part{Cluster: cluster, Table: t}
}

func sortedRows(t *testing.T, field string, parts ...Part) []string {
	t.Helper()
	s, err := NewSorter(field)
	if err != nil {
		t.Fatal(err)
	}
	merged := Merge(parts, false)
	if err := s.Rows(merged); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range merged.Rows {
		out = append(out, r.Cells[0].(string)+"/"+r.Cells[1].(string))
	}
	return out
}

func TestSorterAcrossMembersTiesByCluster(t *testing.T) {
	parts := []Part{
		configMaps("usa", map[string]map[string]any{"a": nil, "c": nil}),
		configMaps("jpn", map[string]map[string]any{"b": nil}),
		configMaps("eur", map[string]map[string]any{"b": nil, "d": nil}),
	}
	want := []string{"usa/a", "eur/b", "jpn/b", "usa/c", "eur/d"}
	for _, field := range []string{".metadata.name", "metadata.name", "{.metadata.name}", "{metadata.name}"} {
		if got := sortedRows(t, field, parts...); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", field, got, want)
		}
	}
}

func TestSorterValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string]map[string]any
		want []string
	}{
		{"quantities sort as numbers", map[string]map[string]any{
			"a": {"n": "100m"}, "b": {"n": "10"}, "c": {"n": "9"}, "d": {"n": "1Ki"},
		}, []string{"usa/a", "usa/c", "usa/b", "usa/d"}},
		{"strings that are not all numbers sort as strings", map[string]map[string]any{
			"a": {"n": "10"}, "b": {"n": "9"}, "c": {"n": "x"},
		}, []string{"usa/a", "usa/b", "usa/c"}},
		{"numbers", map[string]map[string]any{
			"a": {"n": int64(10)}, "b": {"n": 2.5}, "c": {"n": int64(-1)},
		}, []string{"usa/c", "usa/b", "usa/a"}},
		{"objects without the field go first", map[string]map[string]any{
			"a": {"n": "y"}, "b": nil, "c": {"n": "x"},
		}, []string{"usa/b", "usa/c", "usa/a"}},
	} {
		if got := sortedRows(t, ".data.n", configMaps("usa", tc.data)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSorterErrors(t *testing.T) {
	for _, field := range []string{"", "{}", "{.a}{.b}"} {
		if _, err := NewSorter(field); err == nil || !strings.Contains(err.Error(), "give one field") {
			t.Errorf("NewSorter(%q) = %v, want an error asking for one field", field, err)
		}
	}
	s, err := NewSorter(".data")
	if err != nil {
		t.Fatal(err)
	}
	merged := Merge([]Part{configMaps("usa", map[string]map[string]any{"a": {"n": "1"}})}, false)
	if err := s.Rows(merged); err == nil || !strings.Contains(err.Error(), "has no order") {
		t.Errorf("sorting by a map: %v", err)
	}
	s, _ = NewSorter(".spec.nothing")
	if err := s.Rows(merged); err == nil || !strings.Contains(err.Error(), "no object has the field {.spec.nothing}") {
		t.Errorf("sorting by a field no object has: %v", err)
	}
}

func TestSorterItems(t *testing.T) {
	items := []Item{
		item("eur", "v1", "Service", "shop", "web"),
		item("usa", "apps/v1", "Deployment", "shop", "api"),
		item("eur", "apps/v1", "Deployment", "shop", "web"),
	}
	s, _ := NewSorter(".metadata.name")
	if err := s.Items(items); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Name())
	}
	want := []string{"usa/deployment.apps/api", "eur/service/web", "eur/deployment.apps/web"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}
