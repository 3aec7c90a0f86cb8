package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/klog/v2"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/store"
)

var (
	clustersLong = templates.LongDesc(i18n.T(`
		Show the members of a federation, probed now.

		Every member is probed in parallel with the credentials the host holds for it,
		each under --timeout: the manager identity asks for the server's version (the
		LATENCY column is that request's round trip) and the DNS reader counts the nodes.
		A member that cannot be reached, or that refuses a credential, is shown
		NotReady with the reason, and does not delay the others beyond the timeout.

		The TOKENS column says when the first of the member's tokens expires: "never" for
		a token of the older kind, which kubectl fed rotate replaces, "expired" for one
		that no longer works. -o wide shows each identity's expiry. Every kubectl fed
		command that reaches the members refreshes a token once a third of its lifetime
		is left.

		The probe is recorded in each Cluster's status, so that
		kubectl get clusters.kfed.dev shows it too.`))

	clustersExample = templates.Examples(i18n.T(`
		# Show the members of the host's federation
		kubectl fed clusters --context usa

		# With their servers, coordinates, labels and the reason of any failure
		kubectl fed clusters -o wide

		# Two members, as YAML
		kubectl fed clusters eur jpn -o yaml

		# Only the names of the Ready members
		kubectl fed clusters -o jsonpath='{range .items[?(@.status.conditions[0].status=="True")]}{.metadata.name}{"\n"}{end}'`))
)

// ClustersOptions holds the flags of `kubectl fed clusters`.
type ClustersOptions struct {
	Names      []string
	Federation string
	Selector   string
	Timeout    time.Duration

	PrintFlags *genericclioptions.PrintFlags
	printer    printers.ResourcePrinter
	format     string
	wide       bool

	// now is the clock AGE is measured against.
	now func() time.Time

	host *hostFlags
	genericiooptions.IOStreams
}

// NewClustersOptions returns ClustersOptions writing to streams.
func NewClustersOptions(host *hostFlags, streams genericiooptions.IOStreams) *ClustersOptions {
	return &ClustersOptions{
		PrintFlags: genericclioptions.NewPrintFlags("").WithTypeSetter(store.Scheme),
		now:        time.Now,
		host:       host,
		IOStreams:  streams,
	}
}

// NewCmdClusters returns `kubectl fed clusters`.
func NewCmdClusters(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewClustersOptions(host, streams)
	cmd := &cobra.Command{
		Use:                   "clusters [NAME...] [-o wide|yaml|json|name]",
		DisableFlagsInUseLine: true,
		Short:                 i18n.T("Show the members of a federation and their health"),
		Long:                  clustersLong,
		Example:               clustersExample,
		ValidArgsFunction:     host.completeClusters(&o.Federation),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	o.PrintFlags.AddFlags(cmd)
	cmd.Flags().Lookup("output").Usage = "Output format. One of: (wide, json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file)."
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringVarP(&o.Selector, "selector", "l", "", "Show only the members whose Cluster labels match this selector, such as tier=edge.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 0, "How long to wait for each member. 0 means the federation's default, 10s unless init set another.")
	return cmd
}

// Complete builds the printer.
func (o *ClustersOptions) Complete(cmd *cobra.Command, args []string) error {
	if err := o.host.complete(); err != nil {
		return err
	}
	o.Names = args
	format := ""
	if o.PrintFlags.OutputFormat != nil {
		format = *o.PrintFlags.OutputFormat
	}
	o.format = format
	switch format {
	case "", "wide":
		o.wide = format == "wide"
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
func (o *ClustersOptions) Validate() error {
	if o.Timeout < 0 {
		return fmt.Errorf("--timeout must not be negative")
	}
	if _, err := labels.Parse(o.Selector); err != nil {
		return fmt.Errorf("invalid --selector: %w", err)
	}
	return nil
}

// clusterRow is one member and what its probe found.
type clusterRow struct {
	cluster *v1alpha1.Cluster
	health  member.Health
	// tokens describes each identity's token; an identity whose
	// credential could not be read is missing.
	tokens map[string]store.TokenInfo
}

// Run probes the members and prints them.
func (o *ClustersOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, fed, members, err := o.host.members(ctx, o.Federation)
	if err != nil {
		return err
	}
	members, err = o.filter(fed, members)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		if o.printer == nil {
			fmt.Fprintf(o.ErrOut, "No clusters have joined federation %s.\n", fed.Name)
			return nil
		}
	}
	rows := probeMembers(ctx, s, fed, members, nil, o.Timeout, o.now())
	o.record(ctx, s, rows)

	if o.printer != nil {
		list := &v1alpha1.ClusterList{}
		list.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("ClusterList"))
		for _, r := range rows {
			c := r.cluster.DeepCopy()
			c.SetGroupVersionKind(v1alpha1.SchemeGroupVersion.WithKind("Cluster"))
			c.ManagedFields = nil
			list.Items = append(list.Items, *c)
		}
		// As kubectl get does: one object alone when one was asked for, and
		// names one per line.
		if len(list.Items) == 1 && len(o.Names) == 1 || o.format == "name" {
			for i := range list.Items {
				if err := o.printer.PrintObj(&list.Items[i], o.Out); err != nil {
					return err
				}
			}
			return nil
		}
		return o.printer.PrintObj(list, o.Out)
	}
	if err := printClusterTable(o.Out, rows, o.wide, o.now()); err != nil {
		return err
	}
	printRotateHint(o.ErrOut, rows, o.now())
	return nil
}

// probeMembers probes members in parallel, each within timeout (0 means
// the federation's default), and reads their tokens. A member whose probe
// did not finish in time is given now as its probe's time. A member in
// known is not probed: its health is already known, as when the command
// failed to connect to it a moment ago.
func probeMembers(ctx context.Context, s *store.Store, fed *v1alpha1.Federation, members []v1alpha1.Cluster, known map[string]member.Health, timeout time.Duration, now time.Time) []clusterRow {
	if timeout == 0 {
		timeout = fed.ClusterTimeoutOrDefault()
	}
	results := fanout.Map(ctx, members, fanout.Options{Timeout: timeout},
		func(ctx context.Context, c v1alpha1.Cluster) (member.Health, error) {
			if h, ok := known[c.Name]; ok {
				return h, nil
			}
			return member.ProbeCluster(ctx, s, &c), nil
		})
	rows := make([]clusterRow, len(members))
	for i := range members {
		h := results[i].Value
		if err := results[i].Err; err != nil {
			h = member.Health{Time: now}
			h.Reason, h.Message = member.Classify(err)
		}
		rows[i] = clusterRow{cluster: &members[i], health: h, tokens: map[string]store.TokenInfo{}}
	}
	readTokens(ctx, s, rows)
	return rows
}

// filter keeps the members named on the command line and matching the
// selector; a name that is not a member is an error, as for kubectl get.
func (o *ClustersOptions) filter(fed *v1alpha1.Federation, members []v1alpha1.Cluster) ([]v1alpha1.Cluster, error) {
	sel, _ := labels.Parse(o.Selector)
	byName := map[string]bool{}
	for _, n := range o.Names {
		byName[n] = true
	}
	var out []v1alpha1.Cluster
	found := map[string]bool{}
	for _, c := range members {
		if len(byName) > 0 && !byName[c.Name] {
			continue
		}
		found[c.Name] = true
		if sel.Matches(labels.Set(c.Labels)) {
			out = append(out, c)
		}
	}
	var missing []string
	for _, n := range o.Names {
		if !found[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("not members of federation %q: %s", fed.Name, strings.Join(missing, ", "))
	}
	return out, nil
}

// record writes each probe into its Cluster's status. Users who may read
// the host but not write it still get their table: a refusal is only
// logged.
func (o *ClustersOptions) record(ctx context.Context, s *store.Store, rows []clusterRow) {
	fanout.Map(ctx, rows, fanout.Options{Concurrency: 8, Timeout: 5 * time.Second},
		func(ctx context.Context, r clusterRow) (struct{}, error) {
			r.health.ApplyTo(r.cluster)
			body, err := json.Marshal(map[string]any{"status": r.cluster.Status})
			if err != nil {
				return struct{}{}, err
			}
			_, err = s.Clusters.Patch(ctx, r.cluster.Name, types.MergePatchType, body,
				metav1.PatchOptions{FieldManager: v1alpha1.FieldManager}, "status")
			if err != nil && !apierrors.IsNotFound(err) {
				klog.V(2).InfoS("Could not record the probe in the Cluster's status", "cluster", r.cluster.Name, "err", err)
			}
			return struct{}{}, nil
		})
}

// printClusterTable prints the members as kubectl prints a table.
func printClusterTable(out io.Writer, rows []clusterRow, wide bool, now time.Time) error {
	w := printers.GetNewTabWriter(out)
	headers := []string{"NAME", "READY", "REGION", "ZONE", "VERSION", "NODES", "LATENCY", "TOKENS", "AGE"}
	if wide {
		headers = append(headers, "MANAGER-EXPIRES", "DNS-READER-EXPIRES", "SERVER", "LOCATION", "LABELS", "MESSAGE")
	}
	fmt.Fprintln(w, strings.Join(headers, "\t"))
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].cluster.Name < rows[j].cluster.Name })
	for _, r := range rows {
		c, h := r.cluster, r.health
		ready := readyCell(h.Ready, h.Reason)
		version, nodes, latency := h.Version, "<unknown>", "<unknown>"
		if version == "" {
			version = "<unknown>"
		}
		switch {
		case h.Nodes != nil:
			nodes = fmt.Sprint(*h.Nodes)
		case c.Status.Nodes != nil:
			// kfed's manager role may not count nodes; join counted
			// them with the operator's own rights.
			nodes = fmt.Sprint(*c.Status.Nodes)
		}
		if h.Ready || h.Version != "" {
			latency = formatLatency(h.Latency)
		}
		cells := []string{c.Name, ready, orNone(c.Spec.Region), orNone(c.Spec.Zone), version, nodes, latency, tokensCell(r.tokens, now), age(c.CreationTimestamp, now)}
		if wide {
			loc := "<none>"
			if l := c.Spec.Location; l != nil {
				loc = l.Latitude + "," + l.Longitude
			}
			msg := "<none>"
			if !h.Ready && h.Message != "" {
				msg = oneLine(h.Message)
			}
			cells = append(cells, expiresCell(r.tokens, v1alpha1.IdentityManager), expiresCell(r.tokens, v1alpha1.IdentityDNSReader),
				orNone(c.Spec.Server), loc, formatLabels(c.Labels), msg)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	return w.Flush()
}

// readyCell is a member's READY: Ready, or NotReady and the reason.
func readyCell(ready bool, reason string) string {
	switch {
	case ready:
		return "Ready"
	case reason == "":
		return "NotReady"
	}
	return "NotReady (" + reason + ")"
}

func formatLatency(d time.Duration) string {
	switch {
	case d <= 0:
		return "<unknown>"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func formatLabels(l map[string]string) string {
	if len(l) == 0 {
		return "<none>"
	}
	return labels.Set(l).String()
}

// oneLine keeps a message on its row.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
