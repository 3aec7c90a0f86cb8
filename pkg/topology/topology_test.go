package topology

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(region, zone string) corev1.Node {
	labels := map[string]string{}
	if region != "" {
		labels["topology.kubernetes.io/region"] = region
	}
	if zone != "" {
		labels["topology.kubernetes.io/zone"] = zone
	}
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: labels}}
}

func TestFromNodes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nodes []corev1.Node
		want  Topology
	}{
		{"no nodes", nil, Topology{}},
		{"unlabelled", []corev1.Node{node("", ""), node("", "")}, Topology{Nodes: 2}},
		{
			"all agree",
			[]corev1.Node{node("eu-west-1", "eu-west-1a"), node("eu-west-1", "eu-west-1a"), node("eu-west-1", "eu-west-1a")},
			Topology{Region: "eu-west-1", Zone: "eu-west-1a", RegionVotes: 3, ZoneVotes: 3, Nodes: 3},
		},
		{
			"majority region, majority zone within it",
			[]corev1.Node{
				node("us-east-1", "us-east-1a"), node("us-east-1", "us-east-1b"), node("us-east-1", "us-east-1b"),
				node("us-west-2", "us-west-2a"), node("us-west-2", "us-west-2a"), node("", ""),
			},
			Topology{Region: "us-east-1", Zone: "us-east-1b", RegionVotes: 3, ZoneVotes: 2, Nodes: 6},
		},
		{
			// Zones of the losing region must not win the zone vote.
			"zone follows region",
			[]corev1.Node{
				node("a", "a-1"), node("a", "a-2"), node("a", "a-3"),
				node("b", "b-1"), node("b", "b-1"),
			},
			Topology{Region: "a", Zone: "a-1", RegionVotes: 3, ZoneVotes: 1, Nodes: 5},
		},
		{
			"tie goes to the first name",
			[]corev1.Node{node("b", "b-1"), node("a", "a-1")},
			Topology{Region: "a", Zone: "a-1", RegionVotes: 1, ZoneVotes: 1, Nodes: 2},
		},
		{
			"region without zones",
			[]corev1.Node{node("r", ""), node("r", "")},
			Topology{Region: "r", RegionVotes: 2, Nodes: 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromNodes(tc.nodes); got != tc.want {
				t.Errorf("FromNodes() = %+v, want %+v", got, tc.want)
			}
		})
	}
}
