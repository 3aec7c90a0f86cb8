package aggregate

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const servicesTable = `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"42","continue":"next"},
"columnDefinitions":[{"name":"Name","type":"string","format":"name"},{"name":"Ports","type":"integer"},{"name":"Age","type":"string"}],
"rows":[{"cells":["web",80,"3d"],"conditions":[{"type":"Completed","status":"False"}],
"object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"web","namespace":"shop",
"resourceVersion":"41","labels":{"app":"web"},"managedFields":[{"manager":"kubectl","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]}}},
{"cells":["db",5432,"1h"]}]}`

// A page decodes to what the general path makes of it, less the
// managedFields no column shows.
func TestDecodeTable(t *testing.T) {
	got, ok, err := decodeTable([]byte(servicesTable))
	if err != nil || !ok {
		t.Fatalf("decodeTable: %v, %v", ok, err)
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode([]byte(servicesTable), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, ok, err := TableOf(obj)
	if err != nil || !ok {
		t.Fatalf("TableOf: %v, %v", ok, err)
	}
	if got.ResourceVersion != "42" || got.Continue != "next" || !reflect.DeepEqual(got.ColumnDefinitions, want.ColumnDefinitions) {
		t.Errorf("head: %+v, want %+v", got, want)
	}
	if len(got.Rows) != 2 {
		t.Fatalf("%d rows", len(got.Rows))
	}
	for i := range got.Rows {
		g, w := got.Rows[i], want.Rows[i]
		if !reflect.DeepEqual(g.Cells, w.Cells) || !reflect.DeepEqual(g.Conditions, w.Conditions) {
			t.Errorf("row %d: cells %#v, conditions %v; want %#v, %v", i, g.Cells, g.Conditions, w.Cells, w.Conditions)
		}
	}
	m, ok := RowObject(&got.Rows[0])
	if !ok || m.GetNamespace() != "shop" || m.GetName() != "web" || m.GetLabels()["app"] != "web" || m.GetResourceVersion() != "41" {
		t.Errorf("row object: %+v", m)
	}
	if len(m.GetManagedFields()) != 0 {
		t.Errorf("managedFields were decoded: %v", m.GetManagedFields())
	}
	if _, ok := RowObject(&got.Rows[1]); ok {
		t.Error("a row without an object has one")
	}
}

// Objects, from a server that cannot make tables, are left to the general
// path.
func TestDecodeTableNotATable(t *testing.T) {
	for _, body := range []string{
		`{"kind":"ServiceList","apiVersion":"v1","metadata":{},"items":[]}`,
		`{"kind":"Table","apiVersion":"example.com/v1","rows":[]}`,
	} {
		if _, ok, err := decodeTable([]byte(body)); ok || err != nil {
			t.Errorf("%s: read as a table (%v, %v)", body, ok, err)
		}
	}
	if _, _, err := decodeTable([]byte(`{"kind":`)); err == nil {
		t.Error("a cut body was read")
	}
}
