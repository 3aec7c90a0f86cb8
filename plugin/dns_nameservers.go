package plugin

// The zone's nameservers: install names each cluster's load-balancer
// addresses ns1, ns2... in the zone.

import (
	"fmt"
	"net/netip"
	"strings"
)

// nameserver is one NS record of the zone: a name, its glue address when
// the name is in the zone, and the cluster of the server.
type nameserver struct {
	name    string
	addr    netip.Addr
	cluster string
}

// nameservers names the load-balancer addresses of all clusters ns1,
// ns2... in the zone, in the order of the clusters; a load-balancer host
// name is a nameserver as it is, without glue.
func nameservers(domain string, installed []dnsServers) []nameserver {
	var out []nameserver
	n := 0
	for _, in := range installed {
		for _, ing := range in.ingress {
			if addr, err := netip.ParseAddr(ing.IP); err == nil {
				n++
				out = append(out, nameserver{name: fmt.Sprintf("ns%d.%s", n, domain), addr: addr, cluster: in.cluster.label()})
			} else if ing.Hostname != "" {
				out = append(out, nameserver{name: strings.TrimSuffix(ing.Hostname, "."), cluster: in.cluster.label()})
			}
		}
	}
	return out
}
