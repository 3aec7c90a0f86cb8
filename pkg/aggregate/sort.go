package aggregate

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
)

// Sorter orders objects by one field, as kubectl get --sort-by does, but
// across the rows of every member. The sort is stable, so objects whose
// fields are equal keep the order they came in: by cluster, then namespace
// and name.
type Sorter struct {
	path   string
	parser *jsonpath.JSONPath
}

// NewSorter parses a field as kubectl get --sort-by takes it: a JSONPath
// with or without braces and the leading dot, such as .metadata.name,
// metadata.name or {.metadata.creationTimestamp}.
func NewSorter(field string) (*Sorter, error) {
	path := strings.TrimSpace(field)
	if strings.HasPrefix(path, "{") && strings.HasSuffix(path, "}") {
		path = path[1 : len(path)-1]
	}
	path = strings.TrimPrefix(path, ".")
	if path == "" || strings.ContainsAny(path, "{}") {
		return nil, fmt.Errorf("--sort-by %q: give one field, such as .metadata.name or '{.metadata.creationTimestamp}'", field)
	}
	path = "{." + path + "}"
	p := jsonpath.New("sort-by").AllowMissingKeys(true)
	if err := p.Parse(path); err != nil {
		return nil, fmt.Errorf("--sort-by %q: %w", field, err)
	}
	return &Sorter{path: path, parser: p}, nil
}

// Rows sorts a merged table's rows by the field in each row's object. The
// rows must carry whole objects (Query.FullObjects) for fields outside
// metadata.
func (s *Sorter) Rows(t *metav1.Table) error {
	objs := make([]runtime.Object, len(t.Rows))
	for i := range t.Rows {
		objs[i] = t.Rows[i].Object.Object
	}
	order, err := s.order(objs)
	if err != nil {
		return err
	}
	rows := make([]metav1.TableRow, len(order))
	for i, j := range order {
		rows[i] = t.Rows[j]
	}
	t.Rows = rows
	return nil
}

// Items sorts items by the field, whatever their type.
func (s *Sorter) Items(items []Item) error {
	objs := make([]runtime.Object, len(items))
	for i, it := range items {
		objs[i] = it.Object
	}
	order, err := s.order(objs)
	if err != nil {
		return err
	}
	sorted := make([]Item, len(order))
	for i, j := range order {
		sorted[i] = items[j]
	}
	copy(items, sorted)
	return nil
}

// order returns the indexes of objs in sorted order.
func (s *Sorter) order(objs []runtime.Object) ([]int, error) {
	keys := make([]sortKey, len(objs))
	found := false
	for i, obj := range objs {
		k, err := s.key(obj)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		found = found || k.kind != missing
	}
	if !found && len(objs) > 0 {
		return nil, fmt.Errorf("--sort-by: no object has the field %s", s.path)
	}
	// Numbers that come as strings, such as resource quantities, sort as
	// numbers only when every one of them is one, so that the order stays
	// an order.
	quantities := true
	for _, k := range keys {
		if k.kind == text && k.quantity == nil {
			quantities = false
		}
	}
	order := make([]int, len(objs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return compareKeys(keys[a], keys[b], quantities) })
	return order, nil
}

type keyKind int

// The kinds of values, in the order values of different kinds sort in: an
// object without the field goes first, as with kubectl.
const (
	missing keyKind = iota
	boolean
	number
	text
)

type sortKey struct {
	kind     keyKind
	number   float64
	text     string
	quantity *resource.Quantity
}

func (s *Sorter) key(obj runtime.Object) (sortKey, error) {
	if obj == nil {
		return sortKey{}, nil
	}
	var content map[string]any
	if u, ok := obj.(runtime.Unstructured); ok {
		content = u.UnstructuredContent()
	} else {
		var err error
		if content, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err != nil {
			return sortKey{}, err
		}
	}
	results, err := s.parser.FindResults(content)
	if err != nil {
		return sortKey{}, fmt.Errorf("--sort-by %s: %w", s.path, err)
	}
	if len(results) == 0 || len(results[0]) == 0 {
		return sortKey{}, nil
	}
	v := results[0][0]
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return sortKey{}, nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Bool:
		n := 0.0
		if v.Bool() {
			n = 1
		}
		return sortKey{kind: boolean, number: n}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return sortKey{kind: number, number: float64(v.Int())}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return sortKey{kind: number, number: float64(v.Uint())}, nil
	case reflect.Float32, reflect.Float64:
		return sortKey{kind: number, number: v.Float()}, nil
	case reflect.String:
		k := sortKey{kind: text, text: v.String()}
		if q, err := resource.ParseQuantity(k.text); err == nil {
			k.quantity = &q
		}
		return k, nil
	}
	return sortKey{}, fmt.Errorf("--sort-by %s: the field holds a %s, which has no order: give a field that holds a string or a number", s.path, v.Kind())
}

func compareKeys(a, b sortKey, quantities bool) int {
	if a.kind != b.kind {
		return cmp.Compare(a.kind, b.kind)
	}
	switch a.kind {
	case boolean, number:
		return cmp.Compare(a.number, b.number)
	case text:
		if quantities {
			return a.quantity.Cmp(*b.quantity)
		}
		return strings.Compare(a.text, b.text)
	}
	return 0
}
