package lab

import (
	"fmt"
	"net/netip"
	"path/filepath"
)

// LabelRealNode marks the nodes that a real kubelet runs, as opposed to
// kwok's; pods that must really run select it.
const LabelRealNode = "kfed.dev/lab-real-node"

// realNode is a node of a lab cluster that runs pods for real: its own
// containerd and kubelet, with every directory, socket and cgroup of its own
// under the node's directory and cgroup root, and its own bridge and pod
// subnet. The kubelet registers with the bridge's address as its InternalIP,
// so the API server reaches it for logs and exec.
type realNode struct {
	cluster *Cluster
	name    string
	dir     string
	subnet  *subnetClaim
	// cgroupRoot is the kubelet's --cgroup-root; the pods' cgroups go below it.
	cgroupRoot string

	containerd, kubelet *process
	// bridgeUp records that the bridge was made, so stop removes it.
	bridgeUp bool
}

func newRealNode(c *Cluster, i int, subnet *subnetClaim) *realNode {
	name := fmt.Sprintf("%s-real-%d", c.Name, i)
	return &realNode{
		cluster:    c,
		name:       name,
		dir:        filepath.Join(c.Dir, "nodes", name),
		subnet:     subnet,
		cgroupRoot: "/kfed-lab/" + subnet.bridge,
	}
}

func (n *realNode) path(elem ...string) string {
	return filepath.Join(append([]string{n.dir}, elem...)...)
}

// address is the node's InternalIP: the gateway address of its bridge.
func (n *realNode) address() netip.Addr { return n.subnet.gateway() }

func (n *realNode) socket() string { return n.path("containerd.sock") }
