package plugin

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/deploy"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

var (
	dnsInstallLong = templates.LongDesc(i18n.T(`
		Deploy coredns-fed into the host cluster and print the records that
		delegate the federation's zone to it.

		The deploy/coredns-fed kustomize base, built into the plugin, is applied
		server-side with the field manager kubectl-fed: a ServiceAccount allowed to
		read the federation's Clusters and DNS-reader Secrets, a Deployment of two
		replicas, a LoadBalancer Service on UDP and TCP port 53, and a
		PodDisruptionBudget. Once the Service has load-balancer addresses, they are
		written into the Corefile as the zone's nameservers, and the NS and glue
		records for the parent zone are printed. Running install again updates what
		it applied.`))

	dnsInstallExample = templates.Examples(i18n.T(`
		# Install coredns-fed in the host and print the delegation records
		kubectl fed dns install --context usa

		# With an image of your own, waiting up to 10 minutes for the load balancer
		kubectl fed dns install --image registry.example.com/coredns-fed:v0.1.0 --timeout 10m`))
)

const (
	corednsFedName     = "coredns-fed"
	corednsFedSettings = "coredns-fed-settings"
	fieldManager       = "kubectl-fed"
)

// DNSInstallOptions holds the flags of `kubectl fed dns install`.
type DNSInstallOptions struct {
	Federation string
	Image      string
	Timeout    time.Duration

	federation *v1alpha1.Federation
	dynamic    dynamic.Interface
	host       *hostFlags
	genericiooptions.IOStreams
}

// NewDNSInstallOptions returns DNSInstallOptions writing to streams.
func NewDNSInstallOptions(host *hostFlags, streams genericiooptions.IOStreams) *DNSInstallOptions {
	return &DNSInstallOptions{host: host, Timeout: 5 * time.Minute, IOStreams: streams}
}

// NewCmdDNSInstall returns `kubectl fed dns install`.
func NewCmdDNSInstall(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := NewDNSInstallOptions(host, streams)
	cmd := &cobra.Command{
		Use:     "install",
		Short:   i18n.T("Deploy coredns-fed into the host and print the delegation records"),
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
	cmd.Flags().StringVar(&o.Image, "image", "", "The coredns-fed image; the one the base names by default.")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", o.Timeout, "How long to wait for the Service's load-balancer addresses.")
	return cmd
}

// Complete reads the federation from the host.
func (o *DNSInstallOptions) Complete(cmd *cobra.Command) error {
	s, err := o.host.store()
	if err != nil {
		return err
	}
	if o.federation, err = s.Federation(cmd.Context(), o.Federation); err != nil {
		return err
	}
	cfg, err := o.host.configFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	o.dynamic, err = dynamic.NewForConfig(cfg)
	return err
}

// Validate checks the flags.
func (o *DNSInstallOptions) Validate() error {
	if o.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	if o.federation.Spec.Domain == "" {
		return fmt.Errorf("federation %q has no domain: set spec.domain", o.federation.Name)
	}
	return nil
}

// Run applies the base, waits for the load balancer and prints the records.
func (o *DNSInstallOptions) Run(ctx context.Context) error {
	objs, err := deploy.CoreDNSFed()
	if err != nil {
		return err
	}
	domain := strings.TrimSuffix(o.federation.Spec.Domain, ".")
	var corefile *unstructured.Unstructured
	for _, obj := range objs {
		switch {
		case obj.GetKind() == "ConfigMap" && obj.GetName() == corednsFedSettings:
			_ = unstructured.SetNestedStringMap(obj.Object, map[string]string{
				"KFED_FEDERATION": o.federation.Name,
				"KFED_DOMAIN":     domain,
			}, "data")
		case obj.GetKind() == "ConfigMap" && obj.GetName() == corednsFedName:
			corefile = obj
		case obj.GetKind() == "Deployment" && o.Image != "":
			containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				c.(map[string]any)["image"] = o.Image
			}
			_ = unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
		}
		if err := o.apply(ctx, obj); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "coredns-fed applied to %s/%s in the host; waiting for its load balancer\n", v1alpha1.Namespace, corednsFedName)

	ingress, err := o.waitForLoadBalancer(ctx)
	if err != nil {
		return err
	}
	servers := nameservers(domain, ingress)
	if corefile != nil {
		base, _, _ := unstructured.NestedString(corefile.Object, "data", "Corefile")
		_ = unstructured.SetNestedField(corefile.Object, corefileWithNameservers(base, servers), "data", "Corefile")
		if err := o.apply(ctx, corefile); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "\ncoredns-fed serves %s. at %s.\nAdd these records to the parent zone:\n\n", domain, ingressList(ingress))
	printDelegation(o.Out, domain, servers)
	fmt.Fprintf(o.Out, "\nThen check the servers with: kubectl fed dns check\n")
	return nil
}

func (o *DNSInstallOptions) apply(ctx context.Context, obj *unstructured.Unstructured) error {
	mapper, err := o.host.configFlags.ToRESTMapper()
	if err != nil {
		return err
	}
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	_, err = o.dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace()).
		Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

func (o *DNSInstallOptions) waitForLoadBalancer(ctx context.Context) ([]corev1.LoadBalancerIngress, error) {
	s, err := o.host.store()
	if err != nil {
		return nil, err
	}
	var ingress []corev1.LoadBalancerIngress
	err = wait.PollUntilContextTimeout(ctx, time.Second, o.Timeout, true, func(ctx context.Context) (bool, error) {
		svc, err := s.Kube.CoreV1().Services(v1alpha1.Namespace).Get(ctx, corednsFedName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		ingress = svc.Status.LoadBalancer.Ingress
		return len(ingress) > 0, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the Service %s/%s got no load-balancer address within %s: does the host have a load-balancer controller? See `kubectl describe service -n %s %s`",
			v1alpha1.Namespace, corednsFedName, o.Timeout, v1alpha1.Namespace, corednsFedName)
	}
	return ingress, nil
}

// nameserver is one NS record of the zone: a name, and its glue address
// when the name is in the zone.
type nameserver struct {
	name string
	addr netip.Addr
}

// nameservers names each load-balancer address ns1, ns2... in the zone;
// a load-balancer host name is a nameserver as it is, without glue.
func nameservers(domain string, ingress []corev1.LoadBalancerIngress) []nameserver {
	var out []nameserver
	n := 0
	for _, in := range ingress {
		if addr, err := netip.ParseAddr(in.IP); err == nil {
			n++
			out = append(out, nameserver{name: fmt.Sprintf("ns%d.%s", n, domain), addr: addr})
		} else if in.Hostname != "" {
			out = append(out, nameserver{name: strings.TrimSuffix(in.Hostname, ".")})
		}
	}
	return out
}

func ingressList(ingress []corev1.LoadBalancerIngress) string {
	var s []string
	for _, in := range ingress {
		if in.IP != "" {
			s = append(s, in.IP)
		} else {
			s = append(s, in.Hostname)
		}
	}
	return strings.Join(s, ", ")
}

// corefileWithNameservers gives the fed directive of the base's Corefile
// an ns option for each nameserver with glue, so that the zone's own NS
// records match the delegation.
func corefileWithNameservers(base string, servers []nameserver) string {
	var lines []string
	for _, ns := range servers {
		if ns.addr.IsValid() {
			lines = append(lines, fmt.Sprintf("        ns %s %s", ns.name, ns.addr))
		} else {
			lines = append(lines, fmt.Sprintf("        ns %s", ns.name))
		}
	}
	if len(lines) == 0 {
		return base
	}
	const directive = "fed {$KFED_FEDERATION}"
	block := directive + " {\n" + strings.Join(lines, "\n") + "\n    }"
	return strings.Replace(base, directive, block, 1)
}

// printDelegation writes the parent zone's records in zone-file syntax.
func printDelegation(w io.Writer, domain string, servers []nameserver) {
	for _, ns := range servers {
		fmt.Fprintf(w, "%s.\tIN\tNS\t%s.\n", domain, ns.name)
	}
	for _, ns := range servers {
		if !ns.addr.IsValid() {
			continue
		}
		rr := "A"
		if ns.addr.Is6() {
			rr = "AAAA"
		}
		fmt.Fprintf(w, "%s.\tIN\t%s\t%s\n", ns.name, rr, ns.addr)
	}
}
