package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/deploy"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/pkg/version"
)

var (
	dnsInstallLong = templates.LongDesc(i18n.T(`
		Deploy coredns-fed into the host cluster, and with --all-clusters into every
		member too, and print the records that delegate the federation's zone to it.

		The deploy/coredns-fed kustomize base, built into the plugin, is applied
		server-side with the field manager kubectl-fed: a ServiceAccount allowed to
		read the federation's Clusters and DNS-reader Secrets, a Deployment of two
		replicas, a LoadBalancer Service on UDP and TCP port 53, and a
		PodDisruptionBudget.

		With --all-clusters, every member that is not the host gets the same
		workload, so that there is an authoritative server in each region. A member's
		coredns-fed reads the federation from the host: install requests a token of the
		host's coredns-fed ServiceAccount for that member, bound to an anchor Secret of
		its own in the host's kfed-system (unjoin deletes it, which revokes the token)
		and expiring after 90 days, and writes a kubeconfig with the host's address
		(--host-server), CA and that token into the member's Secret
		kfed-system/coredns-fed-host, which its Deployment mounts. A re-run keeps the
		token until a third of its lifetime is left, then replaces it. The token is
		never printed. A --host-server of plain http, or a host context that
		skips TLS verification, is refused unless --insecure-host is given: the token
		would travel in clear, or to whoever answers, and could be stolen on the path.

		Once the Services have load-balancer addresses, they are numbered ns1, ns2...
		over all clusters. The numbers are kept in the Federation's
		status.nameservers, and a name stays with its cluster: a member that
		install cannot reach keeps its number, and no other server is renamed or
		readdressed; a new address gets the lowest free number. A cluster's
		numbers are freed by the first install after it is unjoined, and those of
		addresses it no longer has by the next install that reaches it. The same
		list of nameservers is written into every server's Corefile as
		the zone's nameservers (with --ns-ttl, and the SOA's --rname), the Deployment
		is applied, so that no server starts without them, and the NS and glue
		records for the parent zone are printed with the cluster each server runs
		in. Then install waits, up to --timeout, until every cluster's pods are
		ready, and names those that are not and why (an image that cannot be
		pulled, a crash). A member that cannot be reached or installed is reported
		and left out of the records, keeping its number for the next install, the
		others are installed, and the exit status
		is 1, as it is when pods do not become ready. Running install again updates what it
		applied.

		With --dnssec, the zone is signed. The first such install makes the key set, a
		key-signing key (KSK) and a zone-signing key (ZSK) of --dnssec-algorithm, in the
		host's Secret kfed-dns/coredns-fed-dnssec, which coredns-fed reads from the host
		as it reads the members' credentials; no command prints the keys. Every server
		signs with that one set, and install prints the KSK's DS record for the parent
		zone after the NS and glue records; the servers also publish it at the zone's
		apex as CDS and CDNSKEY records (RFC 7344), for parents that take DS records
		from there. Once the parent holds the DS, every install
		must keep --dnssec: one without it stops before changing anything. kubectl fed
		dns rotate-key rolls the ZSK, and kubectl fed dns check validates each server's
		signatures.`))

	dnsInstallExample = templates.Examples(i18n.T(`
		# Install coredns-fed in the host and print the delegation records
		kubectl fed dns install --context usa

		# One server in every member, answers cached for at most 10 seconds
		kubectl fed dns install --context usa --all-clusters --ttl 10

		# Members reach the host's API server at another address than yours
		kubectl fed dns install --context usa --all-clusters --host-server https://usa-api.internal:6443

		# Sign the zone, and print the DS record for the parent with the delegation
		kubectl fed dns install --context usa --all-clusters --dnssec

		# With an image of your own, waiting up to 10 minutes for the load balancers
		kubectl fed dns install --image registry.example.com/coredns-fed:v0.1.0 --timeout 10m`))
)

const (
	corednsFedName = "coredns-fed"
	// corednsFedPods selects the pods of coredns-fed's Deployment.
	corednsFedPods     = "app.kubernetes.io/name=" + corednsFedName
	corednsFedSettings = "coredns-fed-settings"
	fieldManager       = "kubectl-fed"

	// corednsFedHost is the Secret in a member holding the kubeconfig that
	// its coredns-fed reads the host with.
	corednsFedHost = "coredns-fed-host"
	// hostKubeconfigDir is where a member's coredns-fed finds that
	// kubeconfig, under the key v1alpha1.SecretKeyKubeconfig.
	hostKubeconfigDir = "/etc/kfed-host"
	// annotationHostKubeconfig on a member's pod template is a digest of
	// the kubeconfig, so that the pods restart when it changes.
	annotationHostKubeconfig = v1alpha1.GroupName + "/host-kubeconfig-digest"
	// defaultDNSTTL and defaultNSTTL are the fed plugin's own defaults.
	defaultDNSTTL = 5
	defaultNSTTL  = 3600
)

// DNSInstallOptions holds the flags of `kubectl fed dns install`.
type DNSInstallOptions struct {
	Federation  string
	Image       string
	Timeout     time.Duration
	AllClusters bool
	HostServer  string
	TTL         int
	NSTTL       int
	Rname       string

	// InsecureHost lets members' tokens go to a plain-http or unverified
	// host server.
	InsecureHost bool
	// DNSSEC signs the zone, with keys of DNSSECAlgorithm when install
	// makes them; dnssecGiven is set when --dnssec was given at all.
	DNSSEC          bool
	DNSSECAlgorithm string
	dnssecGiven     bool
	algorithm       uint8
	keys            *keySetSecret

	federation *v1alpha1.Federation
	store      *store.Store
	// clusters are the host, then the members that are not the host.
	clusters []*dnsCluster
	host     *hostFlags
	genericiooptions.IOStreams
}

// NewDNSInstallOptions returns DNSInstallOptions writing to streams.
func NewDNSInstallOptions(host *hostFlags, streams genericiooptions.IOStreams) *DNSInstallOptions {
	return &DNSInstallOptions{host: host, Timeout: 5 * time.Minute, TTL: defaultDNSTTL, NSTTL: defaultNSTTL, IOStreams: streams}
}

// NewCmdDNSInstall returns `kubectl fed dns install`.
func NewCmdDNSInstall(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDNSInstallOptions(host, streams)
	cmd := &cobra.Command{
		Use:     "install",
		Short:   i18n.T("Deploy coredns-fed into the host, or every cluster, and print the delegation records"),
		Long:    dnsInstallLong,
		Example: dnsInstallExample,
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmdutil.CheckErr(o.Complete(cmd))
			cmdutil.CheckErr(o.Validate())
			cmdutil.CheckErr(o.Run(cmd.Context()))
		},
	}
	addFederationFlag(cmd, host, &o.Federation)
	cmd.Flags().StringVar(&o.Image, "image", "", "The coredns-fed image. By default "+version.ImageRepository+" at this plugin's version, which `make image` builds from the same commit (the base's image for a build without a version).")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the Services' load-balancer addresses, and then for the pods to be ready.")
	cmd.Flags().BoolVar(&o.AllClusters, "all-clusters", false, "Install into every member too, not only into the host: one server per cluster.")
	cmd.Flags().StringVar(&o.HostServer, "host-server", "", "The URL at which members reach the host's API server, with --all-clusters. By default, the server of the host's context.")
	cmd.Flags().BoolVar(&o.InsecureHost, "insecure-host", false, "With --all-clusters, give members the host's token even over plain http or without TLS verification, where anyone on the path could steal it.")
	cmd.Flags().IntVar(&o.TTL, "ttl", o.TTL, "The TTL of the answers, in seconds (0 to 3600): how long resolvers may keep an address after its cluster fails.")
	cmd.Flags().IntVar(&o.NSTTL, "ns-ttl", o.NSTTL, "The TTL of the zone's NS records and their addresses, in seconds (0 to 604800): how long resolvers keep the delegation.")
	cmd.Flags().StringVar(&o.Rname, "rname", "", "The mailbox of the zone's administrator, in its SOA record, such as dns-admin@example.com. By default, hostmaster at the zone.")
	cmd.Flags().BoolVar(&o.DNSSEC, "dnssec", false, "Sign the zone: every server signs its answers with one key set, made on the first install and kept in the host's Secret "+v1alpha1.DNSNamespace+"/"+dnssec.SecretName+", and install prints the DS records for the parent. Once the parent holds them, every install must keep --dnssec.")
	cmd.Flags().StringVar(&o.DNSSECAlgorithm, "dnssec-algorithm", "ECDSAP256SHA256", "The algorithm of the keys that --dnssec makes: "+strings.Join(dnssec.AlgorithmNames(), ", ")+" (or its number).")
	return cmd
}

// Complete reads the federation from the host and, with --all-clusters,
// connects to its members.
func (o *DNSInstallOptions) Complete(cmd *cobra.Command) error {
	o.dnssecGiven = cmd.Flags().Changed("dnssec")
	if o.Image == "" {
		if img, ok := version.CoreDNSFedImage(); ok {
			o.Image = img
		}
	}
	var err error
	o.store, o.federation, o.clusters, err = connectDNSClusters(cmd.Context(), o.host, o.Federation, o.AllClusters)
	return err
}

// Validate checks the flags.
func (o *DNSInstallOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.TTL < 0 || o.TTL > 3600 {
		return fmt.Errorf("--ttl must be from 0 to 3600 seconds, not %d", o.TTL)
	}
	if o.NSTTL < 0 || o.NSTTL > 604800 {
		return fmt.Errorf("--ns-ttl must be from 0 to 604800 seconds, not %d", o.NSTTL)
	}
	if o.Rname != "" && !isMailbox(o.Rname) {
		return fmt.Errorf("--rname %q is not a mailbox such as dns-admin@example.com", o.Rname)
	}
	if o.HostServer != "" {
		if !o.AllClusters {
			return fmt.Errorf("--host-server is for members, and needs --all-clusters")
		}
		if !strings.HasPrefix(o.HostServer, "https://") && !strings.HasPrefix(o.HostServer, "http://") {
			return fmt.Errorf("--host-server %q is not a URL such as https://203.0.113.10:6443", o.HostServer)
		}
	}
	if o.federation.Spec.Domain == "" {
		return fmt.Errorf("federation %q has no domain: set spec.domain", o.federation.Name)
	}
	var err error
	if o.algorithm, err = dnssec.ParseAlgorithm(o.DNSSECAlgorithm); err != nil {
		return fmt.Errorf("--dnssec-algorithm: %w", err)
	}
	return o.checkHostTransport()
}

// dnsServers is what one cluster's coredns-fed Service got.
type dnsServers struct {
	cluster *dnsCluster
	ingress []corev1.LoadBalancerIngress
}

// Run applies the base to every cluster, waits for the load balancers and
// prints the records.
func (o *DNSInstallOptions) Run(ctx context.Context) error {
	base, err := deploy.CoreDNSFed()
	if err != nil {
		return err
	}
	var names []string
	for _, c := range o.clusters {
		names = append(names, c.label())
	}
	// The base grants coredns-fed the reader Secrets of kfed-dns, which a
	// host set up by an older init may lack.
	if _, err := o.store.EnsureDNSNamespace(ctx); err != nil {
		return err
	}
	// Before any server changes: a zone whose parent holds a DS must not
	// lose its signatures by a run that forgot --dnssec.
	if err := o.prepareDNSSEC(ctx); err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Applying coredns-fed to %s/%s in %s; waiting for the load balancers\n", v1alpha1.Namespace, corednsFedName, strings.Join(names, ", "))

	// The members' tokens are of the host's ServiceAccount, which must
	// exist before them: the token controller deletes a token Secret whose
	// ServiceAccount it cannot find.
	hostErr := o.applyBase(ctx, o.clusters[0], base)
	results := fanout.Map(ctx, o.clusters, fanout.Options{}, func(ctx context.Context, c *dnsCluster) ([]corev1.LoadBalancerIngress, error) {
		switch {
		case c.err != nil:
			return nil, c.err
		case c.host && hostErr != nil:
			return nil, hostErr
		case !c.host:
			kubeconfig, err := o.hostKubeconfig(ctx, c)
			if err != nil {
				return nil, err
			}
			c.hostKubeconfig = kubeconfig
			if err := o.applyBase(ctx, c, base); err != nil {
				return nil, err
			}
		}
		return o.waitForLoadBalancer(ctx, c)
	})

	var installed []dnsServers
	var failed []string
	for i, r := range results {
		c := o.clusters[i]
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", c.label(), r.Err))
			continue
		}
		installed = append(installed, dnsServers{cluster: c, ingress: r.Value})
	}
	servers, err := o.recordNameservers(ctx, installed)
	if err != nil {
		return err
	}
	written := fanout.Map(ctx, installed, fanout.Options{}, func(ctx context.Context, in dnsServers) (struct{}, error) {
		if err := o.applyCorefile(ctx, in.cluster, base, servers); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, o.applyDeployment(ctx, in.cluster, base)
	})
	var applied []*dnsCluster
	for i, r := range written {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", installed[i].cluster.label(), r.Err))
			continue
		}
		applied = append(applied, installed[i].cluster)
	}
	// The servers are in the records from here on: their addresses are
	// known. Pods that do not come up are reported, not left out.
	rollouts := fanout.Map(ctx, applied, fanout.Options{}, func(ctx context.Context, c *dnsCluster) (struct{}, error) {
		return struct{}{}, o.waitForRollout(ctx, c)
	})
	var notReady []string
	for i, r := range rollouts {
		if r.Err != nil {
			notReady = append(notReady, fmt.Sprintf("%s: %v", applied[i].label(), r.Err))
		}
	}

	if err := o.printRecords(servers); err != nil {
		return err
	}
	return o.installErrors(failed, notReady)
}

// domain is the federation's zone, without the final dot.
func (o *DNSInstallOptions) domain() string {
	return strings.TrimSuffix(o.federation.Spec.Domain, ".")
}
