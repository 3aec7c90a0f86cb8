package lab

// The files a real node runs from: containerd's configuration, the CNI
// network's and the kubelet's.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
)

// prepare writes the node's configuration: containerd's, the CNI network,
// the kubelet's configuration, kubeconfig and serving certificate.
func (n *realNode) prepare(ca *certAuthority) error {
	for _, d := range []string{"containerd", "cni/net.d", "kubelet", "pod-logs"} {
		if err := os.MkdirAll(n.path(d), 0o700); err != nil {
			return err
		}
	}
	crt, key, err := ca.issue(certSpec{
		commonName: n.name,
		ips:        []net.IP{net.IP(n.address().AsSlice())},
		dnsNames:   []string{n.name},
		server:     true,
	})
	if err != nil {
		return err
	}
	c := n.cluster
	cfg := c.kubeconfig()
	if err := clientcmd.WriteToFile(*cfg, n.path("kubeconfig")); err != nil {
		return err
	}
	return writeFiles(n.dir, map[string][]byte{
		"kubelet.crt":                  crt,
		"kubelet.key":                  key,
		"containerd.toml":              []byte(n.containerdConfig()),
		"cni/net.d/10-bridge.conflist": []byte(n.cniConfig()),
		"kubelet.yaml":                 []byte(n.kubeletConfig()),
	})
}

// containerdConfig keeps containerd's root, state, sockets, runc state and
// network namespaces under the node's directory. restrict_oom_score_adj is
// needed where root lacks CAP_SYS_RESOURCE, as on the lab's machines:
// without it every sandbox fails with "can't get final child's PID from
// pipe". The sandbox image is the lab's own pause image.
func (n *realNode) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[6]q

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %[7]q
`, n.path("containerd", "root"), n.path("containerd", "state"), n.socket(), n.path("containerd", "opt"),
		PauseImage, n.path("cni", "net.d"), n.path("containerd", "runc"))
}

// cniConfig puts pods on the node's bridge, addresses from its subnet. The
// bridge is no gateway to anywhere (no forwarding, no masquerading): pods
// reach the machine's own addresses on the bridge, their API server among
// them, and nothing beyond.
func (n *realNode) cniConfig() string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "kfed-lab-%[1]s",
  "plugins": [{
    "type": "bridge",
    "bridge": %[1]q,
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": true,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": %[2]q, "gateway": %[3]q}]],
      "routes": [{"dst": "0.0.0.0/0", "gw": %[3]q}],
      "dataDir": %[4]q
    }
  }]
}
`, n.subnet.bridge, n.subnet.prefix.String(), n.address().String(), n.path("cni", "ipam"))
}

// kubeletConfig is the kubelet's configuration. The lab's machines have
// cgroup v1 (failCgroupV1: false) and swap may be on. The kubelet serves on
// the node's address with a certificate of the cluster's CA, and trusts the
// API server's client certificate. makeIPTablesUtilChains is off: those
// chains serve kube-proxy, which the lab does not run, and would leave
// nftables rules behind. Eviction and image garbage collection thresholds
// are low, since the lab's disk is shared with everything else. Pods are
// synced every 10 s rather than every minute, so that a changed ConfigMap
// reaches its volumes within seconds, as tests of reloads need.
func (n *realNode) kubeletConfig() string {
	addr := n.address().String()
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: %[1]s
containerRuntimeEndpoint: unix://%[2]s
address: %[3]s
port: 10250
readOnlyPort: 0
healthzBindAddress: %[3]s
healthzPort: 10248
tlsCertFile: %[4]s
tlsPrivateKeyFile: %[5]s
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[6]s
authorization:
  mode: Webhook
makeIPTablesUtilChains: false
podLogsDir: %[7]s
clusterDomain: cluster.local
maxPods: 30
registerNode: true
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%%
  imagefs.available: 1%%
  nodefs.inodesFree: 1%%
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
serializeImagePulls: false
syncFrequency: 10s
`, n.cgroupRoot, n.socket(), addr, n.path("kubelet.crt"), n.path("kubelet.key"),
		filepath.Join(n.cluster.Dir, "ca.crt"), n.path("pod-logs"))
}
