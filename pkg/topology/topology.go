// Package topology reads where a cluster is from its nodes' standard
// topology labels.
package topology

import (
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Topology is the region and zone most of a cluster's nodes are in.
type Topology struct {
	Region, Zone string
	// RegionVotes and ZoneVotes count the nodes that carry the chosen
	// region, and the chosen zone within it, out of Nodes.
	RegionVotes, ZoneVotes, Nodes int
}

// FromNodes returns the region carried by the most nodes, and the zone
// carried by the most nodes in that region. A node without the label does
// not vote. Ties go to the name that sorts first, so the answer does not
// depend on the order the API returned the nodes in.
func FromNodes(nodes []corev1.Node) Topology {
	t := Topology{Nodes: len(nodes)}
	regions := map[string]int{}
	for _, n := range nodes {
		if r := n.Labels[v1alpha1.LabelTopologyRegion]; r != "" {
			regions[r]++
		}
	}
	t.Region, t.RegionVotes = plurality(regions)
	zones := map[string]int{}
	for _, n := range nodes {
		if n.Labels[v1alpha1.LabelTopologyRegion] != t.Region {
			continue
		}
		if z := n.Labels[v1alpha1.LabelTopologyZone]; z != "" {
			zones[z]++
		}
	}
	t.Zone, t.ZoneVotes = plurality(zones)
	return t
}

func plurality(votes map[string]int) (string, int) {
	names := make([]string, 0, len(votes))
	for name := range votes {
		names = append(names, name)
	}
	sort.Strings(names)
	best, most := "", 0
	for _, name := range names {
		if votes[name] > most {
			best, most = name, votes[name]
		}
	}
	return best, most
}
