package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/tools/clientcmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/aggregate"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/redact"
	"github.com/kfed-dev/kfed/pkg/store"
)

var (
	getLong = templates.LongDesc(i18n.T(`
		Display objects of any type from every member of the federation, as one view.

		TYPE is what kubectl get takes: a plural, singular or short name, or
		TYPE.GROUP (deployments.apps), several separated by commas, or TYPE/NAME.
		Custom resources work in every member whose API serves them. Each member is
		read in parallel with the manager credential the host holds for it, under
		--timeout.

		The table is the one each member's API server makes, as kubectl get shows
		it, with a CLUSTER column first; rows are sorted by cluster, namespace and
		name. For workloads that kubectl fed apply distributed, DESIRED (the
		replicas asked of the whole federation) and PLACED (this member's share)
		come from the federation's inventory, next to the member's own READY.

		-o yaml and -o json print a List, even of one object, whose items carry the
		annotation kfed.dev/cluster naming their member; the annotation is added on
		output only.
		-o name prints CLUSTER/TYPE/NAME, such as usa/deployment.apps/web.

		Secrets show their keys with every value masked as ***, in every output:
		members are read as the federation's manager, not as you, so kfed does not
		hand out what they hold. Read a value in its member, with your own
		credentials: kubectl get secret NAME --context MEMBER -o yaml.

		--sort-by sorts the rows of all members together by a field of the
		objects, given as a JSONPath (.metadata.name, '{.status.startTime}');
		objects whose fields are equal go by cluster. Strings that are all
		numbers or quantities sort as numbers.

		A member that cannot be read is reported on stderr as "error: cluster NAME:
		...", the other members are still shown, and the command exits 1. A named
		object that only some members have is not an error; one that no member has is.

		--watch (-w) prints the table, then watches every member and prints a row,
		with its CLUSTER, for each object that is added, changed or deleted (a
		deleted object shows as it last was). --watch-only prints only the changes.
		With -o yaml, json or a template, each object is printed on its own, as
		it changes. A watch follows one type, and at most one named object of it.
		A member whose watch fails is reported once on stderr as "member NAME:
		...", is tried again, with pauses of up to 8s, and is reported again with
		"member NAME: watching again" when it answers; meanwhile the other members
		are still shown. The command runs until it is interrupted, and then exits
		0, or for as long as --request-timeout gives it. --sort-by orders only the
		first table, not the changes.`))

	getExample = templates.Examples(i18n.T(`
		# List the pods of every member, in all namespaces
		kubectl fed get pods -A

		# A Deployment in every member, with the replicas the federation placed there
		kubectl fed get deployment web

		# The same Deployment as YAML, one item per member
		kubectl fed get deploy web -o yaml

		# Only two members, only objects with a label
		kubectl fed get pods -l app=web --clusters usa,eur

		# A custom resource, by kind and group
		kubectl fed get crontabs.stable.example.com -n batch

		# One line per object: cluster/type/name
		kubectl fed get deploy,svc -o name

		# The pods of every member, oldest first
		kubectl fed get pods --sort-by .metadata.creationTimestamp

		# Watch the pods of every member change, until interrupted
		kubectl fed get pods -n shop -w

		# Only the changes to one Deployment, for a minute, as JSON
		kubectl fed get deploy web --watch-only -o json --request-timeout 1m`))
)

// GetOptions holds the flags of `kubectl fed get`.
type GetOptions struct {
	Federation     string
	Clusters       []string
	AllNamespaces  bool
	LabelSelector  string
	FieldSelector  string
	IgnoreNotFound bool
	Timeout        time.Duration
	ChunkSize      int64

	PrintFlags   *genericclioptions.PrintFlags
	NoHeaders    bool
	ShowLabels   bool
	LabelColumns []string
	SortBy       string

	Watch     bool
	WatchOnly bool

	args      []string
	namespace string
	sorter    *aggregate.Sorter
	// watchType and watchName are what a watch follows: one type, and at
	// most one object of it.
	watchType, watchName string
	// watchFor bounds a watch: --request-timeout, or 0 for no bound.
	watchFor time.Duration
	// format is the -o value; "" and "wide" print tables, "name" prints
	// names, and the rest go to printer.
	format  string
	printer printers.ResourcePrinter

	// now is the clock AGE is measured against when a server sends
	// objects instead of a table.
	now func() time.Time

	host *hostFlags
	genericiooptions.IOStreams
}

// NewGetOptions returns GetOptions writing to streams.
func NewGetOptions(host *hostFlags, streams genericiooptions.IOStreams) *GetOptions {
	return &GetOptions{
		PrintFlags: genericclioptions.NewPrintFlags(""),
		ChunkSize:  500,
		now:        time.Now,
		host:       host,
		IOStreams:  streams,
	}
}

// NewCmdGet returns `kubectl fed get`.
func NewCmdGet(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdGet(NewGetOptions(host, streams))
}

// newCmdGet returns the command with its flags bound to o.
func newCmdGet(o *GetOptions) *cobra.Command {
	host := o.host
	cmd := &cobra.Command{
		Use:                   "get TYPE[.VERSION][.GROUP] [NAME...] [-o wide|yaml|json|name] [flags]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Display objects from every member of a federation"),
		Long:                  getLong,
		Example:               getExample,
		ValidArgsFunction:     o.completeTypes,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate(cmd))
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format. One of: (wide, json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file). name prints CLUSTER/TYPE/NAME."
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringSliceVar(&o.Clusters, "clusters", nil, "Read only these members, such as usa,eur. By default every member is read.")
	_ = cmd.RegisterFlagCompletionFunc("clusters", host.completeClusters(&o.Federation))
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List the objects of every namespace. The namespace given with -n is ignored.")
	cmd.Flags().StringVarP(&o.LabelSelector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'. (e.g. -l key1=value1,key2=value2)")
	cmd.Flags().StringVar(&o.FieldSelector, "field-selector", "", "Selector (field query) to filter on, as the members' API servers support it. (e.g. --field-selector status.phase=Running)")
	cmd.Flags().BoolVar(&o.IgnoreNotFound, "ignore-not-found", false, "Do not fail when a named object is found in no member.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each member. 0 means the federation's default, 10s unless init set another.")
	cmd.Flags().Int64Var(&o.ChunkSize, "chunk-size", o.ChunkSize, "Read large lists from each member in chunks of this many objects. 0 reads them in one request.")
	cmd.Flags().BoolVar(&o.NoHeaders, "no-headers", false, "When printing a table, leave out the headers.")
	cmd.Flags().BoolVar(&o.ShowLabels, "show-labels", false, "When printing a table, show every object's labels as the last column.")
	cmd.Flags().StringSliceVarP(&o.LabelColumns, "label-columns", "L", nil, "Labels to show as columns of the table, such as -L app,tier.")
	cmd.Flags().StringVar(&o.SortBy, "sort-by", "", "Sort the objects of all members together by this field, a JSONPath such as .metadata.name or '{.metadata.creationTimestamp}'. Ties go by cluster.")
	cmd.Flags().BoolVarP(&o.Watch, "watch", "w", false, "After listing the objects, watch every member and print each change, with its cluster, until interrupted.")
	cmd.Flags().BoolVar(&o.WatchOnly, "watch-only", false, "Watch every member and print each change, without listing the objects first.")
	return cmd
}

// Complete reads the arguments, the namespace and the output format.
func (o *GetOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	if len(args) == 0 {
		return cmdutil.UsageErrorf(cmd, "you must specify the type of objects to get, such as pods or deployments.apps")
	}
	o.args = args
	ns, _, err := o.host.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.namespace = ns
	if o.PrintFlags.OutputFormat != nil {
		o.format = *o.PrintFlags.OutputFormat
	}
	if o.SortBy != "" {
		if o.sorter, err = aggregate.NewSorter(o.SortBy); err != nil {
			return err
		}
		// As kubectl get does.
		switch {
		case o.WatchOnly:
			fmt.Fprintln(o.ErrOut, "warning: --watch-only requested, --sort-by will be ignored")
		case o.Watch:
			fmt.Fprintln(o.ErrOut, "warning: --watch requested, --sort-by will be ignored for watch events received")
		}
	}
	if o.watching() {
		if o.watchType, o.watchName, err = watchTarget(cmd, args); err != nil {
			return err
		}
		if t := o.host.configFlags.Timeout; t != nil && *t != "" {
			if o.watchFor, err = clientcmd.ParseTimeout(*t); err != nil {
				return err
			}
		}
	}
	switch o.format {
	case "", "wide", "name":
		return nil
	}
	p, err := o.PrintFlags.ToPrinter()
	if err != nil {
		return err
	}
	o.printer = p
	return nil
}

// Validate checks the flags.
func (o *GetOptions) Validate(cmd *cobra.Command) error {
	if o.Timeout < 0 {
		return cmdutil.UsageErrorf(cmd, "--timeout must not be negative")
	}
	if o.ChunkSize < 0 {
		return cmdutil.UsageErrorf(cmd, "--chunk-size must not be negative")
	}
	for _, c := range o.Clusters {
		if c == "" {
			return cmdutil.UsageErrorf(cmd, "--clusters has an empty name")
		}
	}
	if !o.table() && (o.NoHeaders || o.ShowLabels || len(o.LabelColumns) > 0) {
		return cmdutil.UsageErrorf(cmd, "--no-headers, --show-labels and --label-columns apply to tables only, not to -o %s", o.format)
	}
	return nil
}

// table reports whether the output is a table, which the servers make.
func (o *GetOptions) table() bool { return o.format == "" || o.format == "wide" }

// watching reports whether the command watches.
func (o *GetOptions) watching() bool { return o.Watch || o.WatchOnly }

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

// Run reads every member and prints what they hold, then, with --watch,
// what changes in them.
func (o *GetOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.watching() {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
		// A second interrupt ends the command at once.
		context.AfterFunc(ctx, stop)
		if o.watchFor > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.watchFor)
			defer cancel()
		}
	}
	s, fed, members, err := o.host.members(ctx, o.Federation)
	if err != nil {
		return err
	}
	members, err = o.pick(fed, members)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return fmt.Errorf("no clusters have joined federation %s: join one with `kubectl fed join NAME --cluster-context CONTEXT`", fed.Name)
	}
	var replicas *aggregate.Replicas
	if o.table() {
		replicas = o.readInventory(ctx, s, fed.Name)
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = fed.ClusterTimeoutOrDefault()
	}
	query := aggregate.Query{
		Args:          o.args,
		Namespace:     o.namespace,
		AllNamespaces: o.AllNamespaces,
		LabelSelector: o.LabelSelector,
		FieldSelector: o.FieldSelector,
		Table:         o.table(),
		FullObjects:   o.sorter != nil,
		ChunkSize:     o.ChunkSize,
	}
	connect := func(c v1alpha1.Cluster) func(context.Context) (*aggregate.Member, error) {
		return func(ctx context.Context) (*aggregate.Member, error) {
			cfg, _, err := s.MemberConfig(ctx, &c, v1alpha1.IdentityManager)
			if err != nil {
				return nil, err
			}
			return aggregate.NewMember(cfg)
		}
	}
	results := fanout.Map(ctx, members, fanout.Options{Concurrency: 16, Timeout: timeout},
		func(ctx context.Context, c v1alpha1.Cluster) (*aggregate.Answer, error) {
			m, err := connect(c)(ctx)
			if err != nil {
				return nil, err
			}
			return aggregate.Get(ctx, m, c.Name, query)
		})
	var answers []*aggregate.Answer
	var failed []error
	for i, r := range results {
		if r.Value != nil {
			answers = append(answers, r.Value)
		}
		if r.Err != nil {
			failed = append(failed, &aggregate.ClusterError{Cluster: members[i].Name, Err: r.Err})
		}
	}
	if !o.watching() {
		return o.print(answers, failed, replicas)
	}
	if ctx.Err() != nil {
		return nil
	}
	if len(answers) == 0 {
		// As kubectl get --watch fails when its one cluster does.
		return aggregate.NewErrors(failed)
	}
	watches := make([]*aggregate.Watch, len(members))
	from := make([]*aggregate.Answer, len(members))
	for i, c := range members {
		watches[i] = &aggregate.Watch{Cluster: c.Name, Connect: connect(c), Query: o.watchQuery(query), Timeout: timeout}
		if results[i].Err == nil {
			from[i] = results[i].Value
		}
	}
	return o.watch(ctx, watches, from, answers, failed, replicas)
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
// answers.
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
			return nil
		case e := <-events:
			if err := p.event(e); err != nil {
				return err
			}
		}
	}
}

// pick keeps the members --clusters names; a name that is not a member is
// an error, as an unknown name is for kubectl get.
func (o *GetOptions) pick(fed *v1alpha1.Federation, members []v1alpha1.Cluster) ([]v1alpha1.Cluster, error) {
	if len(o.Clusters) == 0 {
		return members, nil
	}
	want := sets.New(o.Clusters...)
	var out []v1alpha1.Cluster
	for _, c := range members {
		if want.Has(c.Name) {
			out = append(out, c)
			want.Delete(c.Name)
		}
	}
	if want.Len() > 0 {
		return nil, fmt.Errorf("not members of federation %q: %s", fed.Name, strings.Join(sets.List(want), ", "))
	}
	return out, nil
}

// readInventory returns what the inventory knows of the federation's
// workloads. The inventory only adds columns: when it cannot be read, the
// members' tables are still shown, with a warning.
func (o *GetOptions) readInventory(ctx context.Context, s *store.Store, federation string) *aggregate.Replicas {
	inv, err := inventory.New(s, federation)
	if err == nil {
		var list *v1alpha1.FederatedObjectList
		list, err = inv.Records.List(ctx, metav1.ListOptions{LabelSelector: v1alpha1.LabelFederation + "=" + federation})
		if err == nil {
			var records []v1alpha1.FederatedObject
			for _, r := range list.Items {
				if r.Spec.Federation == federation {
					records = append(records, r)
				}
			}
			return aggregate.NewReplicas(records)
		}
	}
	if !apierrors.IsNotFound(err) {
		fmt.Fprintf(o.ErrOut, "Warning: cannot read the inventory of federation %s, so DESIRED and PLACED are not shown: %v\n", federation, err)
	}
	return nil
}

// print writes what the members answered and returns the failures as one
// error: the members that failed, and the named objects no member has.
func (o *GetOptions) print(answers []*aggregate.Answer, failed []error, replicas *aggregate.Replicas) error {
	sort.Slice(answers, func(i, j int) bool { return answers[i].Cluster < answers[j].Cluster })
	errs := append([]error(nil), failed...)
	if !o.IgnoreNotFound {
		errs = append(errs, foundNowhere(answers, len(failed) > 0)...)
	}
	if o.table() {
		errs = append(errs, o.printTables(answers, replicas, len(errs) > 0)...)
	} else if err := o.printObjects(answers); err != nil {
		errs = append(errs, err)
	}
	return aggregate.NewErrors(errs)
}

// foundNowhere returns an error for each named object that every member
// that answered reported missing.
func foundNowhere(answers []*aggregate.Answer, someFailed bool) []error {
	type missing struct {
		err      error
		clusters []string
	}
	var order []string
	byKey := map[string]*missing{}
	for _, a := range answers {
		for _, err := range a.NotFound {
			k := err.Error()
			var st apierrors.APIStatus
			if errors.As(err, &st) && st.Status().Details != nil {
				d := st.Status().Details
				k = d.Group + "/" + d.Kind + "/" + d.Name
			}
			m := byKey[k]
			if m == nil {
				m = &missing{err: err}
				byKey[k] = m
				order = append(order, k)
			}
			m.clusters = append(m.clusters, a.Cluster)
		}
	}
	var errs []error
	for _, k := range order {
		m := byKey[k]
		if len(m.clusters) < len(answers) {
			continue
		}
		msg := m.err.Error()
		if st, ok := m.err.(apierrors.APIStatus); ok {
			msg = st.Status().Message
		}
		if someFailed {
			errs = append(errs, fmt.Errorf("%s in %s, and the other clusters could not be read", msg, strings.Join(m.clusters, ", ")))
		} else {
			errs = append(errs, fmt.Errorf("%s in any cluster", msg))
		}
	}
	return errs
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
func (o *GetOptions) printTables(answers []*aggregate.Answer, replicas *aggregate.Replicas, failed bool) []error {
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
			fmt.Fprintln(o.Out)
		}
		rows += len(merged.Rows)
		if err := printers.NewTablePrinter(o.printOptions(g.kind, withKind)).PrintObj(merged, o.Out); err != nil {
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
func (o *GetOptions) printObjects(answers []*aggregate.Answer) error {
	items, err := o.items(answers)
	if err != nil {
		return err
	}
	if o.format == "name" {
		for _, it := range items {
			fmt.Fprintln(o.Out, it.Name())
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
	return o.printer.PrintObj(list, o.Out)
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
	if p.o.format == "name" {
		_, err := fmt.Fprintln(p.o.Out, it.Name())
		return err
	}
	return p.o.printer.PrintObj(redact.Secret(it.Annotated()), p.o.Out)
}

// completeTypes offers the resource types the host serves, which members
// usually serve too, as kubectl api-resources names them.
func (o *GetOptions) completeTypes(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	_ = o.host.complete()
	dc, err := o.host.configFlags.ToDiscoveryClient()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	lists, _ := dc.ServerPreferredResources()
	var out []string
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !sets.New(r.Verbs...).Has("list") {
				continue
			}
			name := r.Name
			if gv.Group != "" {
				name += "." + gv.Group
			}
			if strings.HasPrefix(name, toComplete) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
