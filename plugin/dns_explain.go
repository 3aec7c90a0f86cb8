package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"
	"sigs.k8s.io/yaml"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/explain"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/store"
)

var (
	dnsExplainLong = templates.LongDesc(i18n.T(`
		Ask coredns-fed servers how they answer a query, from their own live state:
		the members that have the Service and their health (a ready endpoint, each
		entry point's probe and its round trip, the load-balancer address), where
		the client was located and from what (the EDNS Client Subnet or the source
		address, the database's network and city), the distance or latency to each
		member, the policy in force and where it was set (the Corefile, or the
		annotation of the Service in a member), and the answer with its TTL and
		ECS scope. The server computes all of it with the code that answers DNS
		queries; nothing is computed again here.

		The servers answer on the fed plugin's explain listener (the explain
		option, which install turns on at port 8055 of each pod's address). By
		default every coredns-fed pod of the federation is asked through its API
		server's pod proxy, with your own credentials: the host's pods through
		your current context, a member's through the kubeconfig context named
		like the member (or the one --member-context names), once its cluster
		ID shows that it reaches that member. You need get on pods/proxy in the
		namespace kfed-system. Servers that are not pods, or pods reached
		through kubectl port-forward, are named with --server HOST:PORT and
		asked over HTTP directly.

		NAME is a full name in the zone, or SERVICE.NAMESPACE for the Service's
		global name. Without --client or --ecs, the query is taken to come from the
		address the server sees the request come from: the API server's, through
		the pod proxy. With -o json or -o yaml, one server's report is printed as
		an object, several as a list under items.`))

	dnsExplainExample = templates.Examples(i18n.T(`
		# How every server answers web.shop for a client in 203.0.113.7
		kubectl fed dns explain web.shop --client 203.0.113.7

		# The AAAA records of the regional name for a resolver's client subnet, as JSON
		kubectl fed dns explain web.shop.magicring.svc.eu-west-1.demo.example.com --ecs 198.51.100.0/24 --type AAAA -o json

		# Reach member jpn's pods through the kubeconfig context "tokyo-admin"
		kubectl fed dns explain web.shop --member-context jpn=tokyo-admin

		# A server run as a process, its explain listener on port 8055
		kubectl fed dns explain web.shop --server 127.0.0.1:8055 --client 192.0.2.1`))
)

// explainPort is the explain listener's port when --server or a pod does
// not name one.
const explainPort = 8055

// DNSExplainOptions holds the flags of `kubectl fed dns explain`.
type DNSExplainOptions struct {
	Federation string
	Name       string
	Client     string
	ECS        string
	Type       string
	Servers    []string
	Output     string
	Timeout    time.Duration

	// targets are the servers to ask.
	targets []explainTarget
	host    *hostFlags
	genericiooptions.IOStreams
}

// explainTarget is one server's explain listener.
type explainTarget struct {
	// label names the server in the output.
	label string
	// get asks the listener the query in params and returns the body of
	// its answer.
	get func(ctx context.Context, params url.Values) ([]byte, error)
}

// NewDNSExplainOptions returns DNSExplainOptions writing to streams.
func NewDNSExplainOptions(host *hostFlags, streams genericiooptions.IOStreams) *DNSExplainOptions {
	return &DNSExplainOptions{host: host, Type: "A", Timeout: 5 * time.Second, IOStreams: streams}
}

// NewCmdDNSExplain returns `kubectl fed dns explain`.
func NewCmdDNSExplain(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDNSExplainOptions(host, streams)
	cmd := &cobra.Command{
		Use:     "explain NAME [--client IP | --ecs SUBNET] [--type A|AAAA|SRV] [--server ADDR]... [-o json|yaml]",
		Short:   i18n.T("Show how each coredns-fed server answers a name, and why"),
		Long:    dnsExplainLong,
		Example: dnsExplainExample,
		Args:    cobra.ExactArgs(1),
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd, args))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	o.addFlags(cmd)
	host.addMemberContextFlag(cmd, &o.Federation)
	return cmd
}

func (o *DNSExplainOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Client, "client", "", "The client's address: the query's source address.")
	cmd.Flags().StringVar(&o.ECS, "ecs", "", "The client's subnet, as a resolver sends it in an EDNS Client Subnet option, such as 198.51.100.0/24.")
	cmd.Flags().StringVar(&o.Type, "type", o.Type, "The record type: A, AAAA or SRV.")
	cmd.Flags().StringSliceVar(&o.Servers, "server", nil, "An explain listener to ask, as HOST:PORT (port 8055 if not given); repeat for each. By default, every coredns-fed pod of the host and the members, through each cluster's pod proxy with your own credentials.")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "Output format: json or yaml. By default, a summary and a table of the members.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for each server.")
}

// Complete reads the federation's domain to complete NAME, and finds the
// servers: --server, or the coredns-fed pods of the host and the members.
func (o *DNSExplainOptions) Complete(cmd *cobra.Command, args []string) error {
	o.Name = args[0]
	o.Type = strings.ToUpper(o.Type)
	if len(o.Servers) > 0 && strings.HasSuffix(o.Name, ".") {
		// A full name and the servers given: the host is not needed.
		return o.directTargets()
	}
	ctx := cmd.Context()
	s, err := o.host.store()
	if err != nil {
		return err
	}
	f, err := s.Federation(ctx, o.Federation)
	if err != nil {
		return err
	}
	o.Name = federatedName(o.Name, f.Name, dns.Fqdn(f.Spec.Domain))
	if len(o.Servers) > 0 {
		return o.directTargets()
	}
	return o.podTargets(ctx, s, f.Name)
}

// podTargets finds the coredns-fed pods of the host and of every member,
// each cluster reached with the caller's credentials. A member that cannot
// be asked is warned of; only finding no pod at all fails.
func (o *DNSExplainOptions) podTargets(ctx context.Context, s *store.Store, federation string) error {
	clusters, err := o.host.callerClusters(ctx, s, federation)
	if err != nil {
		return err
	}
	found := fanout.Map(ctx, clusters, fanout.Options{Timeout: o.Timeout}, func(ctx context.Context, c *dnsCluster) ([]explainTarget, error) {
		pods, err := o.host.callerPods(ctx, c)
		if err != nil {
			return nil, err
		}
		return podTargets(ctx, pods, c.name, o.ErrOut)
	})
	for i, r := range found {
		switch {
		case errors.Is(r.Err, errNoPods):
		case r.Err != nil:
			fmt.Fprintf(o.ErrOut, "Warning: not asking the coredns-fed pods of %s: %v\n", clusters[i].label(), r.Err)
		}
		o.targets = append(o.targets, r.Value...)
	}
	if len(o.targets) == 0 {
		return fmt.Errorf("no running coredns-fed pod in %s of the host or a member (run `kubectl fed dns install`), or give servers with --server", v1alpha1.Namespace)
	}
	return nil
}

// directTargets asks the --server listeners over HTTP, within Run's
// timeout.
func (o *DNSExplainOptions) directTargets() error {
	client := &http.Client{}
	for _, srv := range o.Servers {
		addr := withPort(srv, fmt.Sprint(explainPort))
		base := "http://" + addr + explain.Path
		o.targets = append(o.targets, explainTarget{label: addr, get: func(ctx context.Context, params url.Values) ([]byte, error) {
			return httpGet(ctx, client, base+"?"+params.Encode())
		}})
	}
	return nil
}

// httpGet returns the body of a listener's answer, or its error.
func httpGet(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		if err := listenerError(body); err != nil {
			return nil, err
		}
		return nil, errors.New(resp.Status)
	}
	return body, nil
}

// listenerError is the listener's JSON error in body, or nil when body
// holds none.
func listenerError(body []byte) error {
	var e explain.Error
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	return nil
}

// Validate checks the flags.
func (o *DNSExplainOptions) Validate() error {
	if _, ok := dns.IsDomainName(o.Name); !ok {
		return fmt.Errorf("%q is not a domain name", o.Name)
	}
	if o.Client != "" && o.ECS != "" {
		return fmt.Errorf("give --client or --ecs, not both")
	}
	if o.Client != "" {
		if _, err := netip.ParseAddr(o.Client); err != nil {
			return fmt.Errorf("--client %q is not an IP address", o.Client)
		}
	}
	if o.ECS != "" {
		if _, err := netip.ParsePrefix(o.ECS); err != nil {
			return fmt.Errorf("--ecs %q is not a subnet such as 198.51.100.0/24", o.ECS)
		}
	}
	switch o.Type {
	case "A", "AAAA", "SRV":
	default:
		return fmt.Errorf("--type must be A, AAAA or SRV, not %q", o.Type)
	}
	switch o.Output {
	case "", "json", "yaml":
	default:
		return fmt.Errorf("--output must be json or yaml, not %q", o.Output)
	}
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if len(o.targets) == 0 {
		return fmt.Errorf("no server to ask: give one with --server")
	}
	return nil
}

// Run asks every server at once, prints the reports of those that answered,
// and returns the others' failures as one error.
func (o *DNSExplainOptions) Run(ctx context.Context) error {
	params := url.Values{explain.ParamName: {o.Name}, explain.ParamType: {o.Type}}
	if o.Client != "" {
		params.Set(explain.ParamClient, o.Client)
	}
	if o.ECS != "" {
		params.Set(explain.ParamECS, o.ECS)
	}
	results := fanout.Map(ctx, o.targets, fanout.Options{Timeout: o.Timeout}, func(ctx context.Context, t explainTarget) (*explain.Report, error) {
		body, err := t.get(ctx, params)
		if err != nil {
			return nil, err
		}
		var rep explain.Report
		if err := json.Unmarshal(body, &rep); err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		rep.Server = t.label
		return &rep, nil
	})
	var reports []*explain.Report
	var errs []error
	for i, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("server %s: %w", o.targets[i].label, r.Err))
			continue
		}
		reports = append(reports, r.Value)
	}
	if err := o.print(reports); err != nil {
		return err
	}
	return utilerrors.NewAggregate(errs)
}

func (o *DNSExplainOptions) print(reports []*explain.Report) error {
	if o.Output != "" {
		var v any = struct {
			Items []*explain.Report `json:"items"`
		}{reports}
		if len(reports) == 1 {
			v = reports[0]
		} else if len(reports) == 0 {
			return nil
		}
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		if o.Output == "yaml" {
			if b, err = yaml.JSONToYAML(b); err != nil {
				return err
			}
		} else {
			b = append(b, '\n')
		}
		_, err = o.Out.Write(b)
		return err
	}
	for i, rep := range reports {
		if i > 0 {
			fmt.Fprintln(o.Out)
		}
		if err := explain.Print(o.Out, rep); err != nil {
			return err
		}
	}
	return nil
}
