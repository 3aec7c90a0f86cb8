package plugin

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// lb is the ingress of a Service with the addresses addrs, a host name
// when one is not an address.
func lb(addrs ...string) []corev1.LoadBalancerIngress {
	var out []corev1.LoadBalancerIngress
	for _, a := range addrs {
		if _, err := netip.ParseAddr(a); err != nil {
			out = append(out, corev1.LoadBalancerIngress{Hostname: a})
		} else {
			out = append(out, corev1.LoadBalancerIngress{IP: a})
		}
	}
	return out
}

// rec is a record of name for the cluster of ID id (named id too) at addr.
func rec(name, id, addr string) v1alpha1.Nameserver {
	return v1alpha1.Nameserver{Name: name + ".demo.example.com", Cluster: id, ClusterID: id, Address: addr}
}

// reached is a cluster that install reached with ingress; its ID is its
// name.
func reached(name string, ingress ...string) nsCluster {
	return nsCluster{id: name, name: name, label: name, ingress: lb(ingress...)}
}

func TestNumberNameservers(t *testing.T) {
	all := map[string]string{"usa": "usa", "eur": "eur", "jpn": "jpn", "aus": "aus"}
	three := []v1alpha1.Nameserver{rec("ns1", "usa", "10.0.0.1"), rec("ns2", "eur", "10.0.0.2"), rec("ns3", "jpn", "10.0.0.3")}
	for _, tc := range []struct {
		name     string
		recorded []v1alpha1.Nameserver
		joined   map[string]string
		reached  []nsCluster
		// servers are the nameservers as name=address@cluster; record
		// is the record kept, as name=address@cluster.
		servers, record string
	}{{
		name:    "first install numbers in the order of the clusters",
		joined:  all,
		reached: []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "10.0.0.2"), reached("jpn", "10.0.0.3")},
		servers: "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
		record:  "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
	}, {
		name:     "a member that fails keeps its number, and no other server changes",
		recorded: three,
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
	}, {
		name:     "the failed member is back with its number",
		recorded: three,
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "10.0.0.2"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
	}, {
		name:     "a new member does not take a failed member's number",
		recorded: three,
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("aus", "10.0.0.4"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn ns4=10.0.0.4@aus",
		record:   "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn ns4=10.0.0.4@aus",
	}, {
		name:     "an unjoined member's number is freed, and a new member gets the lowest free one",
		recorded: three,
		joined:   map[string]string{"usa": "usa", "jpn": "jpn", "aus": "aus"},
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("aus", "10.0.0.4"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns2=10.0.0.4@aus ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns2=10.0.0.4@aus ns3=10.0.0.3@jpn",
	}, {
		name:     "an unjoined member that was not reached is forgotten",
		recorded: three,
		joined:   map[string]string{"usa": "usa", "jpn": "jpn"},
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn",
	}, {
		name:     "an install of the host alone keeps the members' numbers",
		recorded: three,
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1")},
		servers:  "ns1=10.0.0.1@usa",
		record:   "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
	}, {
		name:     "a new address of a cluster keeps the cluster's number",
		recorded: three,
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "10.0.9.2"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns2=10.0.9.2@eur ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns2=10.0.9.2@eur ns3=10.0.0.3@jpn",
	}, {
		name:     "a second address gets the lowest free number, and an address that is gone frees its own",
		recorded: []v1alpha1.Nameserver{rec("ns1", "usa", "10.0.0.1"), rec("ns2", "usa", "2001:db8::1"), rec("ns3", "eur", "10.0.0.2")},
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "10.0.0.2", "2001:db8::2")},
		servers:  "ns1=10.0.0.1@usa ns2=2001:db8::2@eur ns3=10.0.0.2@eur",
		record:   "ns1=10.0.0.1@usa ns2=2001:db8::2@eur ns3=10.0.0.2@eur",
	}, {
		name:     "addresses keep their numbers in any order",
		recorded: []v1alpha1.Nameserver{rec("ns1", "usa", "10.0.0.1"), rec("ns2", "usa", "2001:db8::1")},
		joined:   all,
		reached:  []nsCluster{reached("usa", "2001:db8::1", "10.0.0.1")},
		servers:  "ns1=10.0.0.1@usa ns2=2001:db8::1@usa",
		record:   "ns1=10.0.0.1@usa ns2=2001:db8::1@usa",
	}, {
		name:     "a host name is a nameserver without a number",
		recorded: three,
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "elb.example.net"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn elb.example.net=-@eur",
		record:   "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn",
	}, {
		name:     "a renamed zone keeps the numbers",
		recorded: []v1alpha1.Nameserver{{Name: "ns2.old.example.com", Cluster: "usa", ClusterID: "usa", Address: "10.0.0.1"}},
		joined:   all,
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "10.0.0.2")},
		servers:  "ns1=10.0.0.2@eur ns2=10.0.0.1@usa",
		record:   "ns1=10.0.0.2@eur ns2=10.0.0.1@usa",
	}, {
		name: "names that are not nsN, and a number recorded twice, are dropped",
		recorded: []v1alpha1.Nameserver{rec("dns1", "usa", "10.0.0.1"), rec("ns01", "usa", "10.0.0.1"),
			rec("ns2", "eur", "10.0.0.2"), rec("ns2", "jpn", "10.0.0.3")},
		joined:  all,
		reached: []nsCluster{reached("usa", "10.0.0.1"), reached("eur", "10.0.0.2"), reached("jpn", "10.0.0.3")},
		servers: "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
		record:  "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
	}, {
		name:     "a rejoined member under another name keeps its number, renamed",
		recorded: three,
		joined:   map[string]string{"usa": "usa", "eur": "europe", "jpn": "jpn"},
		reached:  []nsCluster{reached("usa", "10.0.0.1"), reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns2=10.0.0.2@europe ns3=10.0.0.3@jpn",
	}, {
		name:     "a cluster unjoined while install ran is served but not recorded",
		recorded: three,
		joined:   map[string]string{"usa": "usa", "jpn": "jpn"},
		reached:  []nsCluster{reached("usa", "10.0.0.1"), {name: "eur", label: "eur", ingress: lb("10.0.0.2")}, reached("jpn", "10.0.0.3")},
		servers:  "ns1=10.0.0.1@usa ns2=10.0.0.2@eur ns3=10.0.0.3@jpn",
		record:   "ns1=10.0.0.1@usa ns3=10.0.0.3@jpn",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			recorded := slices.Clone(tc.recorded)
			servers, record := numberNameservers("demo.example.com", recorded, tc.joined, tc.reached)
			var got []string
			for _, ns := range servers {
				addr := "-"
				if ns.addr.IsValid() {
					addr = ns.addr.String()
				}
				got = append(got, fmt.Sprintf("%s=%s@%s", strings.TrimSuffix(ns.name, ".demo.example.com"), addr, ns.cluster))
			}
			if g := strings.Join(got, " "); g != tc.servers {
				t.Errorf("servers %s, want %s", g, tc.servers)
			}
			got = nil
			for _, r := range record {
				if r.ClusterID == "" || !strings.HasSuffix(r.Name, ".demo.example.com") {
					t.Errorf("record %+v", r)
				}
				got = append(got, fmt.Sprintf("%s=%s@%s", strings.TrimSuffix(r.Name, ".demo.example.com"), r.Address, r.Cluster))
			}
			if g := strings.Join(got, " "); g != tc.record {
				t.Errorf("record %s, want %s", g, tc.record)
			}
			if !slices.Equal(recorded, tc.recorded) {
				t.Errorf("the record read was changed: %v", recorded)
			}
		})
	}
}

func TestNSNumber(t *testing.T) {
	for name, want := range map[string]int{
		"ns1.demo.example.com": 1, "ns12.demo.example.com": 12, "ns12": 12,
		"ns0.demo.example.com": 0, "ns01.demo.example.com": 0, "ns.demo.example.com": 0,
		"dns1.demo.example.com": 0, "ns-1.demo.example.com": 0, "ns+1.demo.example.com": 0, "ns1a.demo.example.com": 0, "": 0,
	} {
		if n, ok := nsNumber(name); n != want || ok != (want > 0) {
			t.Errorf("nsNumber(%q) = %d, %t, want %d", name, n, ok, want)
		}
	}
}
