package plugin

// What get prints: tables grouped by kind across members, or the objects
// themselves in the output format asked for.

import (
	"bufio"
	"fmt"
	"io"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/kfed-dev/kfed/pkg/aggregate"
	"github.com/kfed-dev/kfed/pkg/redact"
)

// print writes what the members answered and returns the failures as one
// error: the members that failed, and the named objects no member has.
func (o *GetOptions) print(answers []*aggregate.Answer, failed []error, replicas *aggregate.Replicas) error {
	sort.Slice(answers, func(i, j int) bool { return answers[i].Cluster < answers[j].Cluster })
	errs := append([]error(nil), failed...)
	if !o.IgnoreNotFound {
		errs = append(errs, foundNowhere(answers, len(failed) > 0)...)
	}
	// The table printer writes every cell on its own: unbuffered, 50,000
	// rows were half a million writes to the terminal or pipe.
	out := bufio.NewWriterSize(o.Out, 64<<10)
	if o.table() {
		errs = append(errs, o.printTables(out, answers, replicas, len(errs) > 0)...)
	} else if err := o.printObjects(out, answers); err != nil {
		errs = append(errs, err)
	}
	if err := out.Flush(); err != nil {
		errs = append(errs, err)
	}
	return aggregate.NewErrors(errs)
}

// typeGroup is one resource type's tables from every member.
type typeGroup struct {
	kind  schema.GroupKind
	scope meta.RESTScopeName
	parts []aggregate.Part
}

// tableGroups returns each type's tables from every member, in the order
// the types were asked for, with the inventory's columns added, and the
// members whose tables could not be read.
func (o *GetOptions) tableGroups(answers []*aggregate.Answer, replicas *aggregate.Replicas) ([]*typeGroup, []error) {
	var errs []error
	var groups []*typeGroup
	byResource := map[schema.GroupResource]*typeGroup{}
	for _, gr := range aggregate.Types(answers) {
		g := &typeGroup{}
		byResource[gr] = g
		groups = append(groups, g)
	}
	for _, a := range answers {
		// Objects that came without a table, per type.
		plain := map[schema.GroupResource][]runtime.Object{}
		for _, info := range a.Infos {
			if info.Mapping == nil || info.Object == nil {
				continue
			}
			gr := info.Mapping.Resource.GroupResource()
			g := byResource[gr]
			g.kind, g.scope = info.Mapping.GroupVersionKind.GroupKind(), info.Mapping.Scope.Name()
			t, ok, err := aggregate.TableOf(info.Object)
			if err != nil {
				errs = append(errs, &aggregate.ClusterError{Cluster: a.Cluster, Err: err})
				continue
			}
			if !ok {
				plain[gr] = append(plain[gr], info.Object)
				continue
			}
			g.parts = append(g.parts, aggregate.Part{Cluster: a.Cluster, Table: t})
		}
		for gr, objs := range plain {
			byResource[gr].parts = append(byResource[gr].parts, aggregate.Part{Cluster: a.Cluster, Table: aggregate.DefaultTable(objs, o.now())})
		}
	}
	for _, g := range groups {
		for _, p := range g.parts {
			replicas.AddColumns(p, g.kind)
		}
	}
	return groups, errs
}

// printOptions returns how tables of kind are printed.
func (o *GetOptions) printOptions(kind schema.GroupKind, withKind bool) printers.PrintOptions {
	return printers.PrintOptions{
		NoHeaders:    o.NoHeaders,
		Wide:         o.format == "wide",
		WithKind:     withKind,
		Kind:         kind,
		ShowLabels:   o.ShowLabels,
		ColumnLabels: o.LabelColumns,
	}
}

// printTables prints one table per type, each with the rows of every
// member, separated by blank lines as kubectl separates types. It returns
// the members whose tables could not be read, after printing the others.
func (o *GetOptions) printTables(out io.Writer, answers []*aggregate.Answer, replicas *aggregate.Replicas, failed bool) []error {
	groups, errs := o.tableGroups(answers, replicas)
	withKind := len(groups) > 1
	rows := 0
	allNamespaced := true
	for _, g := range groups {
		namespaced := g.scope == meta.RESTScopeNameNamespace
		allNamespaced = allNamespaced && namespaced
		merged := aggregate.Merge(g.parts, o.AllNamespaces && namespaced)
		if len(merged.Rows) == 0 {
			continue
		}
		if o.sorter != nil {
			if err := o.sorter.Rows(merged); err != nil {
				return append(errs, err)
			}
		}
		if rows > 0 && !o.NoHeaders {
			fmt.Fprintln(out)
		}
		rows += len(merged.Rows)
		if err := printers.NewTablePrinter(o.printOptions(g.kind, withKind)).PrintObj(merged, out); err != nil {
			return append(errs, err)
		}
	}
	if rows == 0 && !failed && len(errs) == 0 && !o.IgnoreNotFound {
		if allNamespaced && !o.AllNamespaces {
			fmt.Fprintf(o.ErrOut, "No resources found in %s namespace.\n", o.namespace)
		} else {
			fmt.Fprintln(o.ErrOut, "No resources found")
		}
	}
	return errs
}

// items returns the objects of the answers, in the order they are printed.
func (o *GetOptions) items(answers []*aggregate.Answer) ([]aggregate.Item, error) {
	var items []aggregate.Item
	for _, a := range answers {
		for _, info := range a.Infos {
			u, ok := info.Object.(*unstructured.Unstructured)
			if !ok || info.Mapping == nil {
				continue
			}
			items = append(items, aggregate.Item{Cluster: a.Cluster, Resource: info.Mapping.Resource, Object: u})
		}
	}
	aggregate.SortItems(items, aggregate.Types(answers))
	if o.sorter != nil {
		if err := o.sorter.Items(items); err != nil {
			return nil, err
		}
	}
	return items, nil
}

// printObjects prints the objects as names or through the printer of -o.
func (o *GetOptions) printObjects(out io.Writer, answers []*aggregate.Answer) error {
	items, err := o.items(answers)
	if err != nil {
		return err
	}
	if o.format == "name" {
		for _, it := range items {
			fmt.Fprintln(out, it.Name())
		}
		return nil
	}
	// Always a List, even of one object, unlike kubectl get NAME: how many
	// members hold a named object varies, and scripts should not have to
	// tell a List from an object.
	list := &unstructured.UnstructuredList{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "List",
		"metadata":   map[string]any{"resourceVersion": ""},
	}}
	for _, it := range items {
		list.Items = append(list.Items, *redact.Secret(it.Annotated()))
	}
	return o.printer.PrintObj(list, out)
}
