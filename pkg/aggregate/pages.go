package aggregate

// A faster read of the common case, kubectl fed get TYPE: the tables of
// one type, which resource.Builder decodes into maps of maps, every row's
// object and its managedFields included, to be thrown away once printed.
// Decoded here straight into typed rows, and with managedFields skipped, a
// table of 2,500 Services costs far fewer allocations: over 20 members,
// that decoding was most of the plugin's processor time.

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/json"
)

// errNotTable is a page of a list that came as objects after a first
// page that came as a table.
var errNotTable = errors.New("the server sent a page of the list as objects, not as the table of its first page")

// tablePage is one page of a server's Table as it comes on the wire.
type tablePage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ListMeta   `json:"metadata,omitempty"`
	ColumnDefinitions []metav1.TableColumnDefinition `json:"columnDefinitions"`
	Rows              []struct {
		Cells      []any                      `json:"cells"`
		Conditions []metav1.TableRowCondition `json:"conditions,omitempty"`
		Object     *rowObject                 `json:"object,omitempty"`
	} `json:"rows"`
}

// rowObject is the metadata a server sends with each row.
type rowObject struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        rowMeta `json:"metadata"`
}

type rowMeta struct {
	metav1.ObjectMeta `json:",inline"`
	// ManagedFields, most of a row's bytes, are shown by no column: they
	// are skipped, not decoded.
	ManagedFields skipped `json:"managedFields,omitempty"`
}

// skipped decodes any JSON value into nothing.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// decodeTable returns the Table in body, each row's object its metadata,
// or false when body holds something else, such as the objects of a server
// that cannot make tables.
func decodeTable(body []byte) (*metav1.Table, bool, error) {
	var p tablePage
	if err := json.UnmarshalCaseSensitivePreserveInts(body, &p); err != nil {
		return nil, false, err
	}
	if p.Kind != "Table" || (p.APIVersion != metav1.SchemeGroupVersion.String() && p.APIVersion != "meta.k8s.io/v1beta1") {
		return nil, false, nil
	}
	t := &metav1.Table{TypeMeta: p.TypeMeta, ListMeta: p.ListMeta, ColumnDefinitions: p.ColumnDefinitions, Rows: make([]metav1.TableRow, len(p.Rows))}
	for i, r := range p.Rows {
		t.Rows[i] = metav1.TableRow{Cells: r.Cells, Conditions: r.Conditions}
		if o := r.Object; o != nil {
			t.Rows[i].Object.Object = &metav1.PartialObjectMetadata{TypeMeta: o.TypeMeta, ObjectMeta: o.Metadata.ObjectMeta}
		}
	}
	return t, true, nil
}

// listTables reads, page by page, the tables of the one type q lists,
// when q asks for tables of rows with their metadata only. It returns
// false, having read nothing or only a first page that was no table, for
// any other query, for several types, and for a server that cannot make
// tables: resource.Builder then reads them, as it reads everything else.
func listTables(ctx context.Context, m *Member, q Query) ([]*resource.Info, bool, error) {
	if !q.lists() || !q.Table || q.FullObjects {
		return nil, false, nil
	}
	r := q.builder(m).Do()
	if r.Err() != nil {
		return nil, false, nil
	}
	mapping, err := r.ResourceMapping()
	if err != nil {
		return nil, false, nil
	}
	client, err := m.clientFor(mapping.GroupVersionKind.GroupVersion())
	if err != nil {
		return nil, false, nil
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	ns := q.Namespace
	if q.AllNamespaces || !namespaced {
		ns = ""
	}
	var infos []*resource.Info
	opts := metav1.ListOptions{LabelSelector: q.LabelSelector, FieldSelector: q.FieldSelector, Limit: q.ChunkSize}
	for {
		body, err := client.Get().NamespaceIfScoped(ns, namespaced).Resource(mapping.Resource.Resource).
			VersionedParams(&opts, metav1.ParameterCodec).SetHeader("Accept", tableAccept).
			Do(ctx).Raw()
		if err != nil {
			// The pages read so far are shown, as resource.Builder
			// showed them, beside the member's error.
			return infos, true, err
		}
		t, ok, err := decodeTable(body)
		if err != nil {
			return infos, true, err
		}
		if !ok {
			if len(infos) == 0 {
				return nil, false, nil
			}
			// A server that answered the first page with a table does
			// not change its mind on the next.
			return infos, true, errNotTable
		}
		infos = append(infos, &resource.Info{Client: client, Mapping: mapping, Namespace: ns, Object: t, ResourceVersion: t.ResourceVersion})
		if opts.Continue = t.Continue; opts.Continue == "" {
			return infos, true, nil
		}
	}
}

// clientFor returns a client of the member for one API group version, as
// resource.Builder makes one.
func (m *Member) clientFor(gv schema.GroupVersion) (*rest.RESTClient, error) {
	cfg := rest.CopyConfig(m.config)
	cfg.ContentConfig = resource.UnstructuredPlusDefaultContentConfig()
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	if gv.Group == "" {
		cfg.APIPath = "/api"
	}
	return rest.RESTClientFor(cfg)
}
