package plugin

// The zone's nameservers: install names each cluster's load-balancer
// addresses ns1, ns2... in the zone, and keeps the numbers it gave in the
// Federation's status, so that a name stays with its cluster.

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// nameserver is one NS record of the zone: a name, its glue address when
// the name is in the zone, and the cluster of the server.
type nameserver struct {
	name    string
	addr    netip.Addr
	cluster string
}

// nsCluster is a cluster whose coredns-fed Service install reached in
// this run, with the load-balancer ingress it got.
type nsCluster struct {
	// id is the cluster's ID, which its numbers are kept for; name is its
	// name in the record and label in output.
	id, name, label string
	ingress         []corev1.LoadBalancerIngress
}

// numberNameservers names the load-balancer addresses of the reached
// clusters ns1, ns2... in domain, and returns them with the record to keep
// for the next run.
//
// The recorded numbers are kept: an address keeps its number, and a
// cluster's new address takes a number its cluster had for an address it
// no longer has, so a load balancer that changes its address renames
// nothing. A joined cluster that was not reached (a member that failed, or
// one this run does not install) keeps its numbers, and they go to no one
// else. Other addresses get the lowest numbers that are free. Only the
// numbers of clusters that are no longer joined, and of addresses a reached
// cluster no longer has, are freed. A load-balancer host name is a
// nameserver as it is, without glue or number.
//
// The servers are in the order of their numbers, the host names last.
func numberNameservers(domain string, recorded []v1alpha1.Nameserver, joined map[string]string, reached []nsCluster) ([]nameserver, []v1alpha1.Nameserver) {
	isReached := map[string]bool{}
	for _, c := range reached {
		isReached[c.id] = true
	}
	// Numbers still held: by clusters not reached, kept as they are; by
	// reached clusters, to be matched to their addresses.
	taken := map[int]bool{}
	held := map[string][]v1alpha1.Nameserver{}
	var record []v1alpha1.Nameserver
	for _, ns := range recorded {
		n, ok := nsNumber(ns.Name)
		name, member := joined[ns.ClusterID]
		if !ok || !member || taken[n] {
			continue
		}
		taken[n] = true
		ns.Name, ns.Cluster = nsName(n, domain), name
		if isReached[ns.ClusterID] {
			held[ns.ClusterID] = append(held[ns.ClusterID], ns)
			continue
		}
		record = append(record, ns)
	}

	type numbered struct {
		n       int
		addr    netip.Addr
		cluster *nsCluster
	}
	var servers []numbered
	var named []nameserver
	var unnumbered []numbered
	for i := range reached {
		c := &reached[i]
		own := held[c.id]
		slices.SortFunc(own, func(a, b v1alpha1.Nameserver) int { return cmp.Compare(numberOf(a.Name), numberOf(b.Name)) })
		used := make([]bool, len(own))
		var rest []netip.Addr
		for _, ing := range c.ingress {
			addr, err := netip.ParseAddr(ing.IP)
			if err != nil {
				if ing.Hostname != "" {
					named = append(named, nameserver{name: strings.TrimSuffix(ing.Hostname, "."), cluster: c.label})
				}
				continue
			}
			if j := slices.IndexFunc(own, func(ns v1alpha1.Nameserver) bool { return ns.Address == addr.String() }); j >= 0 && !used[j] {
				used[j] = true
				servers = append(servers, numbered{numberOf(own[j].Name), addr, c})
				continue
			}
			rest = append(rest, addr)
		}
		for _, addr := range rest {
			j := slices.Index(used, false)
			if j < 0 {
				unnumbered = append(unnumbered, numbered{0, addr, c})
				continue
			}
			used[j] = true
			servers = append(servers, numbered{numberOf(own[j].Name), addr, c})
		}
		for j, ns := range own {
			if !used[j] {
				delete(taken, numberOf(ns.Name))
			}
		}
	}
	next := 1
	for _, s := range unnumbered {
		for taken[next] {
			next++
		}
		taken[next] = true
		s.n = next
		servers = append(servers, s)
	}

	slices.SortFunc(servers, func(a, b numbered) int { return cmp.Compare(a.n, b.n) })
	out := make([]nameserver, 0, len(servers)+len(named))
	for _, s := range servers {
		name := nsName(s.n, domain)
		out = append(out, nameserver{name: name, addr: s.addr, cluster: s.cluster.label})
		// A cluster unjoined while install ran has no ID to keep a number
		// for.
		if s.cluster.id != "" {
			record = append(record, v1alpha1.Nameserver{Name: name, Cluster: s.cluster.name, ClusterID: s.cluster.id, Address: s.addr.String()})
		}
	}
	slices.SortFunc(record, func(a, b v1alpha1.Nameserver) int { return cmp.Compare(numberOf(a.Name), numberOf(b.Name)) })
	return append(out, named...), record
}

// nsName is the name of nameserver n of domain.
func nsName(n int, domain string) string {
	return fmt.Sprintf("ns%d.%s", n, domain)
}

// nsNumber reads n from a name nsN.<domain>. The domain is not compared:
// a number is kept if the zone is renamed.
func nsNumber(name string) (int, bool) {
	label, _, _ := strings.Cut(name, ".")
	digits, ok := strings.CutPrefix(label, "ns")
	if !ok || digits == "" || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil {
		return 0, false
	}
	return n, true
}

// numberOf is the number of a name that numberNameservers kept.
func numberOf(name string) int {
	n, _ := nsNumber(name)
	return n
}
