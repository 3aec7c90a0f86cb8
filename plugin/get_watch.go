package plugin

// get -w: one watch per member, and the rows each change prints.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/kfed-dev/kfed/pkg/aggregate"
	"github.com/kfed-dev/kfed/pkg/redact"
)

// watchTarget returns the one type, and the object of it if one is named,
// that a watch follows, as kubectl get --watch takes them.
func watchTarget(cmd *cobra.Command, args []string) (typ, name string, err error) {
	switch {
	case len(args) == 1 && strings.Count(args[0], "/") == 1:
		typ, name, _ = strings.Cut(args[0], "/")
	case len(args) == 1:
		typ = args[0]
	case len(args) == 2 && !strings.Contains(args[0], "/"):
		typ, name = args[0], args[1]
	default:
		return "", "", cmdutil.UsageErrorf(cmd, "--watch follows at most one named object: watch its type instead, narrowed with -l or --field-selector")
	}
	if strings.Contains(typ, ",") {
		return "", "", cmdutil.UsageErrorf(cmd, "--watch follows one type at a time, not %s: run one kubectl fed get --watch for each", typ)
	}
	return typ, name, nil
}

// watchQuery returns what a watch of query follows: its one type, and a
// named object by a field selector, so that every member lists and
// watches it alike, whether or not it has the object.
func (o *GetOptions) watchQuery(q aggregate.Query) aggregate.Query {
	q.Args = []string{o.watchType}
	q.FullObjects = false
	if o.watchName != "" {
		q.FieldSelector = strings.TrimSuffix("metadata.name="+o.watchName+","+q.FieldSelector, ",")
	}
	return q
}

// watch prints the first listing (unless --watch-only), then every change
// the members report, until ctx ends: the user interrupts, or
// --request-timeout passes. from holds each member's first listing, or nil
// where it failed: such a member is reported and followed as soon as it
// answers. What it returns at the end is watchFailures.end's.
func (o *GetOptions) watch(ctx context.Context, watches []*aggregate.Watch, from, answers []*aggregate.Answer, failed []error, replicas *aggregate.Replicas) error {
	sort.Slice(answers, func(i, j int) bool { return answers[i].Cluster < answers[j].Cluster })
	if o.watchName != "" && len(failed) == 0 {
		if missing := foundNowhere(answers, false); len(missing) > 0 {
			if o.IgnoreNotFound {
				return nil
			}
			return aggregate.NewErrors(missing)
		}
	}
	p := o.newWatchPrinter(replicas)
	if !o.WatchOnly {
		if err := p.listing(answers); err != nil {
			return err
		}
	}
	down := newWatchFailures(failed)
	for _, err := range failed {
		var ce *aggregate.ClusterError
		if errors.As(err, &ce) {
			p.failed(ce.Cluster, ce.Err)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	events := make(chan aggregate.Event)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for i, w := range watches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.Run(ctx, from[i], events)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return down.end(ctx)
		case e := <-events:
			down.record(e)
			if err := p.event(e); err != nil {
				return err
			}
		}
	}
}

// watchPrinter prints a watch as kubectl get --watch does: one table, its
// header printed once and every later row aligned under it, or one object
// after another.
type watchPrinter struct {
	o        *GetOptions
	replicas *aggregate.Replicas
	// columns is the table's layout, set by the first listing or change
	// and fixed once a row is printed.
	columns *aggregate.Columns
	fixed   bool
	table   printers.ResourcePrinter
	// out keeps the column widths from one flush to the next.
	out interface {
		io.Writer
		Flush() error
	}
}

func (o *GetOptions) newWatchPrinter(replicas *aggregate.Replicas) *watchPrinter {
	return &watchPrinter{o: o, replicas: replicas, out: printers.GetNewTabWriter(o.Out)}
}

// listing prints the first listing of the watched type.
func (p *watchPrinter) listing(answers []*aggregate.Answer) error {
	if !p.o.table() {
		items, err := p.o.items(answers)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := p.item(it); err != nil {
				return err
			}
		}
		return nil
	}
	groups, errs := p.o.tableGroups(answers, p.replicas)
	for _, g := range groups {
		if err := p.rows(g.parts, g.kind, g.scope, p.o.sorter); err != nil {
			return err
		}
	}
	for _, err := range errs {
		fmt.Fprintf(p.o.ErrOut, "error: %v\n", err)
	}
	return nil
}

// event prints what a member's watch reported: a changed object to
// stdout, a failure or a recovery to stderr.
func (p *watchPrinter) event(e aggregate.Event) error {
	switch {
	case e.Failed != nil:
		p.failed(e.Cluster, e.Failed)
		return nil
	case e.Back:
		fmt.Fprintf(p.o.ErrOut, "member %s: watching again\n", e.Cluster)
		return nil
	case e.Object == nil || e.Mapping == nil:
		return nil
	}
	if !p.o.table() {
		u, ok := e.Object.(*unstructured.Unstructured)
		if !ok {
			return nil
		}
		return p.item(aggregate.Item{Cluster: e.Cluster, Resource: e.Mapping.Resource, Object: u})
	}
	t, ok, err := aggregate.TableOf(e.Object)
	if err != nil {
		p.failed(e.Cluster, err)
		return nil
	}
	if !ok {
		t = aggregate.DefaultTable([]runtime.Object{e.Object}, p.o.now())
	}
	part := aggregate.Part{Cluster: e.Cluster, Table: t}
	kind := e.Mapping.GroupVersionKind.GroupKind()
	p.replicas.AddColumns(part, kind)
	return p.rows([]aggregate.Part{part}, kind, e.Mapping.Scope.Name(), nil)
}

func (p *watchPrinter) failed(cluster string, err error) {
	fmt.Fprintf(p.o.ErrOut, "member %s: %s (trying again until it answers)\n", cluster, aggregate.Describe(err))
}

// rows prints the rows of parts in the table's layout.
func (p *watchPrinter) rows(parts []aggregate.Part, kind schema.GroupKind, scope meta.RESTScopeName, sorter *aggregate.Sorter) error {
	if p.columns == nil {
		p.columns = aggregate.NewColumns(p.o.AllNamespaces && scope == meta.RESTScopeNameNamespace)
		p.table = printers.NewTablePrinter(p.o.printOptions(kind, false))
	}
	if !p.fixed {
		for _, part := range parts {
			p.columns.Add(part.Table)
		}
	}
	merged := p.columns.Merge(parts)
	if len(merged.Rows) == 0 {
		return nil
	}
	p.fixed = true
	if sorter != nil {
		if err := sorter.Rows(merged); err != nil {
			return err
		}
	}
	if err := p.table.PrintObj(merged, p.out); err != nil {
		return err
	}
	return p.out.Flush()
}

// item prints one object, as -o asks.
func (p *watchPrinter) item(it aggregate.Item) error {
	switch {
	case p.o.format == "name":
		_, err := fmt.Fprintln(p.o.Out, it.Name())
		return err
	case customColumns(p.o.format):
		// Printed through out, so that every row lines up under the
		// header, as kubectl get --watch lines them up.
		if err := p.o.printer.PrintObj(redact.Secret(it.Annotated()), p.out); err != nil {
			return err
		}
		return p.out.Flush()
	}
	return p.o.printer.PrintObj(redact.Secret(it.Annotated()), p.o.Out)
}
