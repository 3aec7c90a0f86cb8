package plugin

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/tools/clientcmd"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/aggregate"
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
		-o custom-columns=SPEC and -o custom-columns-file=FILE print the columns
		they give, as kubectl get prints them, after a CLUSTER column; a bad SPEC
		or FILE is refused with kubectl's error before any member is read.
		--no-headers leaves out the header, of a FILE's columns too.

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
		are still shown. --sort-by orders only the first table, not the changes.

		A watch runs until it is interrupted, or for as long as --request-timeout
		gives it, and exits as kubectl get --watch does: 1 when interrupted
		(Ctrl-C, SIGTERM, SIGHUP or SIGQUIT), 0 when --request-timeout ends it. A
		named object that no member has ends it at once with exit 1, with
		--watch-only too, and with exit 0 under --ignore-not-found. Where kubectl
		get --watch ends, with exit 0, when the server closes its watch, kfed
		watches the member again; but a member whose watch failed while it ran is
		named at the end, "error: cluster NAME: ...", and the command exits 1, as
		changes in that member may be missing from what was printed.`))

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
		kubectl fed get deploy web --watch-only -o json --request-timeout 1m

		# The image of every Deployment in every member
		kubectl fed get deploy -o custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[*].image

		# The columns of a file: a line of headers, then a line of JSONPaths
		kubectl fed get pods -o custom-columns-file=columns.txt --no-headers`))
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
		Use:                   "get TYPE[.VERSION][.GROUP] [NAME...] [-o wide|yaml|json|name|custom-columns=SPEC] [flags]",
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
	cmd.Flags().Lookup("output").Usage = "Output format. One of: (wide, json, yaml, name, custom-columns, custom-columns-file, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file). name prints CLUSTER/TYPE/NAME; custom columns come after a CLUSTER column."
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringSliceVar(&o.Clusters, "clusters", nil, "Read only these members, such as usa,eur. By default every member is read.")
	_ = cmd.RegisterFlagCompletionFunc("clusters", host.completeClusters(&o.Federation))
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "List the objects of every namespace. The namespace given with -n is ignored.")
	cmd.Flags().StringVarP(&o.LabelSelector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'. (e.g. -l key1=value1,key2=value2)")
	cmd.Flags().StringVar(&o.FieldSelector, "field-selector", "", "Selector (field query) to filter on, as the members' API servers support it. (e.g. --field-selector status.phase=Running)")
	cmd.Flags().BoolVar(&o.IgnoreNotFound, "ignore-not-found", false, "Do not fail when a named object is found in no member.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each member. 0 means the federation's default, 10s unless init set another.")
	cmd.Flags().Int64Var(&o.ChunkSize, "chunk-size", o.ChunkSize, "Read large lists from each member in chunks of this many objects. 0 reads them in one request.")
	cmd.Flags().BoolVar(&o.NoHeaders, "no-headers", false, "When printing a table or custom columns, leave out the headers.")
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
	switch {
	case o.format == "" || o.format == "wide" || o.format == "name":
		return nil
	case customColumns(o.format):
		o.printer, err = customColumnsPrinter(o.format, o.NoHeaders)
		return err
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
	switch {
	case o.table():
	case o.ShowLabels || len(o.LabelColumns) > 0:
		return cmdutil.UsageErrorf(cmd, "--show-labels and --label-columns apply to tables only, not to -o %s", o.format)
	case o.NoHeaders && !customColumns(o.format):
		return cmdutil.UsageErrorf(cmd, "--no-headers applies to tables and custom columns only, not to -o %s", o.format)
	}
	return nil
}

// table reports whether the output is a table, which the servers make.
func (o *GetOptions) table() bool { return o.format == "" || o.format == "wide" }

// watching reports whether the command watches.
func (o *GetOptions) watching() bool { return o.Watch || o.WatchOnly }
