package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/store"
)

var (
	dnsCheckLong = templates.LongDesc(i18n.T(`
		Ask every coredns-fed server of the federation for the zone's SOA and NS
		records, and for one federated name, and report what is wrong in plain words.

		For a signed zone, each server's DNSKEY records must be the key set's, in the
		host's Secret kfed-dns/coredns-fed-dnssec, and its signatures of the DNSKEY
		records, the SOA, a denial and the federated name must validate with those
		keys; check reports when the first of them expires, names a server that signs
		with other keys, and shows the phase of a key roll in progress.

		The servers are those given with --server, or else the load-balancer
		addresses of the coredns-fed Services that install created in the host and,
		with --all-clusters, in the members. With
		--parent, the parent zone's server is asked for the delegation, which must
		name the same nameservers, and for a signed zone for its DS records, one of
		which must point at a KSK of the key set. The exit status is 1 when anything
		is wrong.`))

	dnsCheckExample = templates.Examples(i18n.T(`
		# Check the servers install created, and the Service web in namespace shop
		kubectl fed dns check --name web.shop

		# Check two servers by address, and the delegation in the parent zone
		kubectl fed dns check --server 192.0.2.53 --server 198.51.100.53:53 --parent 203.0.113.1`))
)

// DNSCheckOptions holds the flags of `kubectl fed dns check`.
type DNSCheckOptions struct {
	Federation string
	Servers    []string
	Name       string
	Parent     string
	Timeout    time.Duration

	// keys is the zone's key set as the host holds it: nil for a zone
	// that is not signed, or when it cannot be read (keysErr).
	keys    *keySetSecret
	keysErr error

	domain     string
	federation string
	host       *hostFlags
	genericiooptions.IOStreams
}

// NewDNSCheckOptions returns DNSCheckOptions writing to streams.
func NewDNSCheckOptions(host *hostFlags, streams genericiooptions.IOStreams) *DNSCheckOptions {
	return &DNSCheckOptions{host: host, Timeout: 2 * time.Second, IOStreams: streams}
}

// NewCmdDNSCheck returns `kubectl fed dns check`.
func NewCmdDNSCheck(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDNSCheckOptions(host, streams)
	cmd := &cobra.Command{
		Use:     "check",
		Short:   i18n.T("Ask each coredns-fed server for the zone and a federated name"),
		Long:    dnsCheckLong,
		Example: dnsCheckExample,
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringSliceVar(&o.Servers, "server", nil, "A coredns-fed server to ask, as ADDRESS or ADDRESS:PORT; repeat for each. By default, the addresses of the coredns-fed Services in the host and the members.")
	cmd.Flags().StringVar(&o.Name, "name", "", "A federated Service to ask for, as SERVICE.NAMESPACE or a full name in the zone.")
	cmd.Flags().StringVar(&o.Parent, "parent", "", "A server of the parent zone, as ADDRESS or ADDRESS:PORT, to check the delegation against.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for each answer.")
	return cmd
}

// Complete reads the federation and, without --server, the servers'
// addresses from the host and the members.
func (o *DNSCheckOptions) Complete(cmd *cobra.Command) error {
	ctx := cmd.Context()
	var f *v1alpha1.Federation
	var s *store.Store
	if len(o.Servers) == 0 {
		hs, fed, clusters, err := connectDNSClusters(ctx, o.host, o.Federation, true)
		if err != nil {
			return err
		}
		if err := o.findServers(ctx, clusters); err != nil {
			return err
		}
		s, f = hs, fed
	} else {
		var err error
		if s, err = o.host.store(); err != nil {
			return err
		}
		if f, err = s.Federation(ctx, o.Federation); err != nil {
			return err
		}
	}
	o.readKeys(ctx, s)
	o.federation, o.domain = f.Name, dns.Fqdn(f.Spec.Domain)
	for i, srv := range o.Servers {
		o.Servers[i] = withPort(srv, "53")
	}
	if o.Parent != "" {
		o.Parent = withPort(o.Parent, "53")
	}
	if o.Name != "" {
		o.Name = federatedName(o.Name, o.federation, o.domain)
	}
	return nil
}

// findServers takes the load-balancer addresses of the coredns-fed Service
// in every cluster that has one: the host, and the members where install
// ran with --all-clusters. A member that cannot be asked is warned about.
func (o *DNSCheckOptions) findServers(ctx context.Context, clusters []*dnsCluster) error {
	results := fanout.Map(ctx, clusters, fanout.Options{}, func(ctx context.Context, c *dnsCluster) ([]corev1.LoadBalancerIngress, error) {
		if c.err != nil {
			return nil, c.err
		}
		return loadBalancerIngress(ctx, c)
	})
	var hostErr error
	for i, r := range results {
		c := clusters[i]
		switch {
		case c.host && r.Err != nil:
			hostErr = r.Err
		case apierrors.IsNotFound(r.Err):
		case r.Err != nil:
			fmt.Fprintf(o.ErrOut, "Warning: cannot look for coredns-fed in cluster %s: %v\n", c.name, r.Err)
		}
		for _, in := range r.Value {
			if in.IP != "" {
				o.Servers = append(o.Servers, in.IP)
			} else if in.Hostname != "" {
				o.Servers = append(o.Servers, in.Hostname)
			}
		}
	}
	if len(o.Servers) > 0 {
		return nil
	}
	if hostErr != nil {
		return fmt.Errorf("no --server given, and the coredns-fed Service of the host cannot be read (run `kubectl fed dns install` first): %w", hostErr)
	}
	return fmt.Errorf("the Service %s/%s has no load-balancer address yet; give servers with --server", v1alpha1.Namespace, corednsFedName)
}

func withPort(addr, port string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(addr, port)
}

// federatedName completes a name given as SERVICE.NAMESPACE to the name it
// has in the federation's zone, SERVICE.NAMESPACE.FEDERATION.svc.DOMAIN;
// a name already in domain is left as it is.
func federatedName(name, federation, domain string) string {
	if dns.IsSubDomain(domain, dns.Fqdn(name)) {
		return name
	}
	return dns.Fqdn(name) + federation + ".svc." + domain
}

// Validate checks the flags.
func (o *DNSCheckOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.Name != "" {
		if _, ok := dns.IsDomainName(o.Name); !ok {
			return fmt.Errorf("--name %q is not a domain name", o.Name)
		}
	}
	return nil
}

// serverReport is what one server answered.
type serverReport struct {
	server   string
	problems []string
	nsNames  []string
	findings []string
	// dnskeys are the tags of the DNSKEY RRset the server serves.
	dnskeys []uint16
}

// Run asks every server in parallel and prints one line per check.
func (o *DNSCheckOptions) Run(ctx context.Context) error {
	results := fanout.Map(ctx, o.Servers, fanout.Options{}, func(ctx context.Context, server string) (serverReport, error) {
		return o.checkServer(server), nil
	})
	w := tabwriter.NewWriter(o.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "SERVER\tRESULT")
	var problems []string
	var nsSets [][]string
	for _, r := range results {
		rep := r.Value
		for _, f := range rep.findings {
			fmt.Fprintf(w, "%s\tok: %s\n", rep.server, f)
		}
		for _, p := range rep.problems {
			fmt.Fprintf(w, "%s\tPROBLEM: %s\n", rep.server, p)
			problems = append(problems, rep.server+": "+p)
		}
		if rep.nsNames != nil {
			nsSets = append(nsSets, rep.nsNames)
		}
	}
	problems = append(problems, o.dnssecSummary(w, results)...)
	for _, set := range nsSets[min(1, len(nsSets)):] {
		if !slices.Equal(set, nsSets[0]) {
			p := fmt.Sprintf("the servers disagree on the zone's nameservers (%s against %s): do they run the same Corefile?",
				strings.Join(set, " "), strings.Join(nsSets[0], " "))
			fmt.Fprintf(w, "-\tPROBLEM: %s\n", p)
			problems = append(problems, p)
			break
		}
	}
	if o.Parent != "" {
		var want []string
		if len(nsSets) > 0 {
			want = nsSets[0]
		}
		delegation := o.checkParent(want)
		if len(delegation) == 0 {
			fmt.Fprintf(w, "%s\tok: delegates %s to %s\n", o.Parent, o.domain, strings.Join(want, " "))
		}
		found, ds := o.checkParentDS()
		if found != "" {
			fmt.Fprintf(w, "%s\tok: %s\n", o.Parent, found)
		}
		for _, p := range append(delegation, ds...) {
			fmt.Fprintf(w, "%s\tPROBLEM: %s\n", o.Parent, p)
			problems = append(problems, o.Parent+": "+p)
		}
	}
	w.Flush()
	if len(problems) > 0 {
		return fmt.Errorf("%d problem(s) found with the DNS of %s", len(problems), o.domain)
	}
	fmt.Fprintf(o.Out, "All %d server(s) answer for %s\n", len(o.Servers), o.domain)
	return nil
}

func (o *DNSCheckOptions) query(server, name string, qtype uint16) (*dns.Msg, error) {
	return o.exchange(server, name, qtype, false)
}

// exchange asks server for name and qtype, with the DO bit when do is set,
// over UDP and again over TCP when the answer is truncated.
func (o *DNSCheckOptions) exchange(server, name string, qtype uint16, do bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, do)
	c := &dns.Client{Net: "udp", Timeout: o.Timeout}
	r, _, err := c.Exchange(m, server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(m, server)
	}
	return r, err
}

// unanswered words a failed exchange for a user.
func unanswered(server, what string, err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing answers DNS at %s (connection refused) when asked for %s: is coredns-fed running there?", server, what)
	case errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Sprintf("no answer to %s within the timeout: is coredns-fed running at %s, and does the network let DNS through?", what, server)
	}
	return fmt.Sprintf("cannot ask for %s: %v", what, err)
}

func (o *DNSCheckOptions) checkServer(server string) serverReport {
	rep := serverReport{server: server}
	r, err := o.query(server, o.domain, dns.TypeSOA)
	switch {
	case err != nil:
		rep.problems = append(rep.problems, unanswered(server, "the SOA of "+o.domain, err))
		return rep
	case r.Rcode == dns.RcodeServerFailure:
		rep.problems = append(rep.problems, "answers SERVFAIL for the SOA of "+o.domain+": coredns-fed has not synced with the host and members yet, or cannot read them (see its log)")
		return rep
	case r.Rcode == dns.RcodeRefused:
		rep.problems = append(rep.problems, "refuses "+o.domain+": it is not configured for this zone (check the Corefile's zone and the federation's domain)")
		return rep
	case r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0:
		rep.problems = append(rep.problems, fmt.Sprintf("answers %s with no SOA for %s", dns.RcodeToString[r.Rcode], o.domain))
		return rep
	case !r.Authoritative:
		rep.problems = append(rep.problems, "answers for "+o.domain+" but not authoritatively: is this a resolver rather than coredns-fed?")
	default:
		rep.findings = append(rep.findings, "authoritative SOA for "+o.domain)
	}

	if r, err := o.query(server, o.domain, dns.TypeNS); err != nil {
		rep.problems = append(rep.problems, unanswered(server, "the NS records of "+o.domain, err))
	} else {
		for _, rr := range r.Answer {
			if ns, ok := rr.(*dns.NS); ok {
				rep.nsNames = append(rep.nsNames, strings.ToLower(ns.Ns))
			}
		}
		slices.Sort(rep.nsNames)
	}
	o.checkDNSSEC(server, &rep)

	if o.Name == "" {
		return rep
	}
	r, err = o.query(server, o.Name, dns.TypeA)
	switch {
	case err != nil:
		rep.problems = append(rep.problems, unanswered(server, o.Name, err))
	case r.Rcode == dns.RcodeNameError:
		rep.problems = append(rep.problems, o.Name+" does not exist: no member has that Service (check its name and namespace, and that it was applied with kubectl fed apply)")
	case r.Rcode != dns.RcodeSuccess:
		rep.problems = append(rep.problems, fmt.Sprintf("answers %s for %s", dns.RcodeToString[r.Rcode], o.Name))
	case len(r.Answer) == 0:
		rep.problems = append(rep.problems, o.Name+" has no addresses: the Service has no load-balancer address in any member yet")
	default:
		var addrs []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				addrs = append(addrs, a.A.String())
			}
		}
		rep.findings = append(rep.findings, fmt.Sprintf("%s has %s", o.Name, strings.Join(addrs, " ")))
	}
	return rep
}

// checkParent asks the parent zone's server for the delegation.
func (o *DNSCheckOptions) checkParent(want []string) []string {
	r, err := o.query(o.Parent, o.domain, dns.TypeNS)
	if err != nil {
		return []string{unanswered(o.Parent, "the delegation of "+o.domain, err)}
	}
	var got []string
	for _, rr := range append(r.Answer, r.Ns...) {
		if ns, ok := rr.(*dns.NS); ok && strings.EqualFold(ns.Hdr.Name, o.domain) {
			got = append(got, strings.ToLower(ns.Ns))
		}
	}
	slices.Sort(got)
	switch {
	case len(got) == 0:
		return []string{fmt.Sprintf("the parent zone does not delegate %s (no NS records; rcode %s): add the records that `kubectl fed dns install` printed", o.domain, dns.RcodeToString[r.Rcode])}
	case want != nil && !slices.Equal(got, want):
		return []string{fmt.Sprintf("the parent zone delegates %s to %s, but coredns-fed names %s: make them the same", o.domain, strings.Join(got, " "), strings.Join(want, " "))}
	}
	return nil
}
