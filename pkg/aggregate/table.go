package aggregate

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1beta1 "k8s.io/apimachinery/pkg/apis/meta/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Part is one member's table of one resource type.
type Part struct {
	Cluster string
	Table   *metav1.Table
}

// TableOf returns the server-side Table that obj holds, with the object of
// each row decoded, or false when obj is not a Table: a server that cannot
// make tables answers with the object itself.
func TableOf(obj runtime.Object) (*metav1.Table, bool, error) {
	if t, ok := obj.(*metav1.Table); ok {
		return t, true, nil
	}
	switch obj.GetObjectKind().GroupVersionKind() {
	case metav1.SchemeGroupVersion.WithKind("Table"), metav1beta1.SchemeGroupVersion.WithKind("Table"):
	default:
		return nil, false, nil
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false, nil
	}
	t, err := tableFrom(u.Object)
	if err != nil {
		return nil, false, fmt.Errorf("decoding the server's table: %w", err)
	}
	return t, true, nil
}

// tableFrom builds a Table from its decoded JSON. The rows are taken as
// they are, each row's object kept as the map it was decoded to: running
// them through the converter would encode every object to JSON and decode
// it again, which is most of the cost of reading a table of tens of
// thousands of rows.
func tableFrom(content map[string]any) (*metav1.Table, error) {
	head := make(map[string]any, len(content))
	for k, v := range content {
		if k != "rows" {
			head[k] = v
		}
	}
	t := &metav1.Table{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(head, t); err != nil {
		return nil, err
	}
	rows, _ := content["rows"].([]any)
	t.Rows = make([]metav1.TableRow, len(rows))
	for i, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("row %d is not an object", i)
		}
		row := &t.Rows[i]
		row.Cells, _ = m["cells"].([]any)
		if conds, ok := m["conditions"].([]any); ok {
			// The converter fills a whole struct: a row of its own.
			var c metav1.TableRow
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(map[string]any{"conditions": conds}, &c); err != nil {
				return nil, fmt.Errorf("row %d: %w", i, err)
			}
			row.Conditions = c.Conditions
		}
		if o, ok := m["object"].(map[string]any); ok {
			row.Object.Object = &unstructured.Unstructured{Object: o}
		}
	}
	return t, nil
}

// DefaultTable returns a table of NAME and AGE for objects that came
// without a server-side table, as kubectl prints such objects.
func DefaultTable(objs []runtime.Object, now time.Time) *metav1.Table {
	t := &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
		{Name: "Age", Type: "string"},
	}}
	for _, obj := range objs {
		m, err := meta.Accessor(obj)
		if err != nil {
			continue
		}
		age := "<unknown>"
		if ts := m.GetCreationTimestamp(); !ts.IsZero() {
			age = duration.HumanDuration(now.Sub(ts.Time))
		}
		t.Rows = append(t.Rows, metav1.TableRow{
			Cells:  []any{m.GetName(), age},
			Object: runtime.RawExtension{Object: obj},
		})
	}
	return t
}

// Merge returns one table of every part's rows, with a CLUSTER column
// first and, when withNamespace, a NAMESPACE column after it. Its columns
// are the union of the parts' columns in the order they first appear, so
// that members serving different versions still line up; a member's row
// has an empty cell where its table had no such column. Rows are sorted by
// cluster, then namespace, then name.
func Merge(parts []Part, withNamespace bool) *metav1.Table {
	c := NewColumns(withNamespace)
	for _, p := range parts {
		c.Add(p.Table)
	}
	return c.Merge(parts)
}

// Columns is the layout of a merged table: CLUSTER, NAMESPACE when asked
// for, then the members' columns by name. A watch keeps one, so that every
// row it prints later lines up under the header it printed first.
type Columns struct {
	defs          []metav1.TableColumnDefinition
	index         map[string]int
	withNamespace bool
}

// NewColumns returns a layout of CLUSTER, and NAMESPACE when withNamespace.
func NewColumns(withNamespace bool) *Columns {
	c := &Columns{
		defs: []metav1.TableColumnDefinition{{
			Name: "Cluster", Type: "string", Description: "The member cluster the object is in.",
		}},
		index:         map[string]int{},
		withNamespace: withNamespace,
	}
	if withNamespace {
		c.defs = append(c.defs, metav1.TableColumnDefinition{
			Name: "Namespace", Type: "string", Description: metav1.ObjectMeta{}.SwaggerDoc()["namespace"],
		})
	}
	return c
}

// Add appends the columns of t that the layout does not have yet.
func (c *Columns) Add(t *metav1.Table) {
	for _, d := range t.ColumnDefinitions {
		if _, ok := c.index[d.Name]; !ok {
			c.index[d.Name] = len(c.defs)
			c.defs = append(c.defs, d)
		}
	}
}

// Merge returns the rows of every part in this layout, sorted by cluster,
// then namespace, then name. A cell of a column the layout does not have is
// left out; a column a part does not have is left empty.
func (c *Columns) Merge(parts []Part) *metav1.Table {
	out := &metav1.Table{ColumnDefinitions: slices.Clone(c.defs)}
	out.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("Table"))
	fixed := 1
	if c.withNamespace {
		fixed = 2
	}
	type keyed struct {
		cluster, namespace, name string
		row                      metav1.TableRow
	}
	var rows []keyed
	for _, p := range parts {
		nameCol := nameColumn(p.Table.ColumnDefinitions)
		for _, r := range p.Table.Rows {
			ns, name := rowIdentity(r, nameCol)
			cells := make([]any, len(c.defs))
			cells[0] = p.Cluster
			if c.withNamespace {
				cells[1] = ns
			}
			for i, d := range p.Table.ColumnDefinitions {
				if at, ok := c.index[d.Name]; ok && i < len(r.Cells) {
					cells[at] = r.Cells[i]
				}
			}
			for i := fixed; i < len(cells); i++ {
				if cells[i] == nil {
					cells[i] = ""
				}
			}
			rows = append(rows, keyed{p.Cluster, ns, name, metav1.TableRow{
				Cells: cells, Conditions: r.Conditions, Object: r.Object,
			}})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.cluster != b.cluster {
			return a.cluster < b.cluster
		}
		if a.namespace != b.namespace {
			return a.namespace < b.namespace
		}
		return a.name < b.name
	})
	for _, r := range rows {
		out.Rows = append(out.Rows, r.row)
	}
	return out
}

// InsertColumns adds columns right after the name column (or at the end of
// a table without one), with cells(row) giving each row's values.
func InsertColumns(t *metav1.Table, cols []metav1.TableColumnDefinition, cells func(row *metav1.TableRow) []any) {
	at := nameColumn(t.ColumnDefinitions) + 1
	if at == 0 {
		at = len(t.ColumnDefinitions)
	}
	defs := make([]metav1.TableColumnDefinition, 0, len(t.ColumnDefinitions)+len(cols))
	defs = append(defs, t.ColumnDefinitions[:at]...)
	defs = append(defs, cols...)
	t.ColumnDefinitions = append(defs, t.ColumnDefinitions[at:]...)
	for i := range t.Rows {
		r := &t.Rows[i]
		values := cells(r)
		c := make([]any, 0, len(r.Cells)+len(cols))
		if at <= len(r.Cells) {
			c = append(c, r.Cells[:at]...)
			c = append(c, values...)
			c = append(c, r.Cells[at:]...)
		} else {
			c = append(c, r.Cells...)
			for len(c) < at {
				c = append(c, "")
			}
			c = append(c, values...)
		}
		r.Cells = c
	}
}

// nameColumn returns the index of the column holding the object's name, or
// -1.
func nameColumn(cols []metav1.TableColumnDefinition) int {
	for i, c := range cols {
		if c.Format == "name" {
			return i
		}
	}
	return -1
}

// RowObject returns the namespace, name and labels of a row's object,
// which the server sends as metadata with each row.
func RowObject(r *metav1.TableRow) (metav1.Object, bool) {
	if r.Object.Object == nil {
		return nil, false
	}
	m, err := meta.Accessor(r.Object.Object)
	return m, err == nil
}

func rowIdentity(r metav1.TableRow, nameCol int) (namespace, name string) {
	if m, ok := RowObject(&r); ok {
		return m.GetNamespace(), m.GetName()
	}
	if nameCol >= 0 && nameCol < len(r.Cells) {
		name = fmt.Sprint(r.Cells[nameCol])
	}
	return "", name
}
