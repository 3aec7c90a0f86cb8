package plugin

// The Corefile install writes into every cluster: the fed plugin's
// options, with the zone's nameservers.

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// fedOptions returns the options install sets in the fed block of one
// cluster's Corefile.
func (o *DNSInstallOptions) fedOptions(c *dnsCluster, servers []nameserver) []string {
	var opts []string
	if !c.host {
		opts = append(opts, "kubeconfig "+hostKubeconfigDir+"/"+v1alpha1.SecretKeyKubeconfig)
	}
	opts = append(opts, fmt.Sprintf("ttl %d", o.TTL), fmt.Sprintf("ns_ttl %d", o.NSTTL))
	if o.Rname != "" {
		opts = append(opts, "rname "+o.Rname)
	}
	if o.keys != nil {
		opts = append(opts, "dnssec")
	}
	for _, ns := range servers {
		if ns.addr.IsValid() {
			opts = append(opts, fmt.Sprintf("ns %s %s", ns.name, ns.addr))
		} else {
			opts = append(opts, "ns "+ns.name)
		}
	}
	return opts
}

// setCorefile gives the fed directive of the Corefile ConfigMap obj the
// options opts.
func setCorefile(obj *unstructured.Unstructured, opts []string) error {
	corefile, found, err := unstructured.NestedString(obj.Object, "data", "Corefile")
	if err == nil && !found {
		err = fmt.Errorf("missing")
	}
	if err != nil {
		return manifestError(obj, "data.Corefile", err)
	}
	return unstructured.SetNestedField(obj.Object, corefileWithOptions(corefile, opts), "data", "Corefile")
}

// corefileWithOptions gives the fed directive of the base's Corefile the
// options opts, one a line, before those the base sets (its snapshot).
func corefileWithOptions(base string, opts []string) string {
	if len(opts) == 0 {
		return base
	}
	const directive = "fed {$KFED_FEDERATION}"
	lines := "\n        " + strings.Join(opts, "\n        ")
	if strings.Contains(base, directive+" {\n") {
		return strings.Replace(base, directive+" {", directive+" {"+lines, 1)
	}
	return strings.Replace(base, directive, directive+" {"+lines+"\n    }", 1)
}
