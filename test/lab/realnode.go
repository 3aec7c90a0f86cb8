package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
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

func (n *realNode) socket() string { return n.path("containerd.sock") }

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

// setUp makes the node's bridge, with the node's address and, on the
// cluster's first node, the addresses the API server is forwarded from.
func (n *realNode) setUpBridge(extra ...netip.Addr) error {
	br := n.subnet.bridge
	if linkExists(br) {
		// Left by a lab that crashed; the subnet claim makes it ours.
		if err := ip("link", "del", br); err != nil {
			return err
		}
	}
	if err := ip("link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	n.bridgeUp = true
	if err := ip("addr", "add", netip.PrefixFrom(n.address(), n.subnet.prefix.Bits()).String(), "dev", br); err != nil {
		return err
	}
	for _, a := range extra {
		if err := ip("addr", "add", a.String()+"/32", "dev", br); err != nil {
			return err
		}
	}
	return ip("link", "set", br, "up")
}

// noPullProxy is where real nodes' image pulls go: the discard port of
// loopback, which refuses them.
const noPullProxy = "http://127.0.0.1:9"

// start runs containerd, imports the lab's images and runs the kubelet.
func (n *realNode) start(ctx context.Context, images []string) error {
	if err := createCgroupRoot(n.cgroupRoot); err != nil {
		return err
	}
	n.containerd = newProcess(n.name+"/containerd", "containerd", n.path("containerd.log"),
		"--config", n.path("containerd.toml"))
	// Pods run only the images the lab imports. A missing one must fail
	// on the machine, not be fetched from a registry: every pull goes to a
	// proxy on a loopback port where nothing listens, so no name is looked
	// up and no packet leaves the machine.
	n.containerd.env = []string{"HTTPS_PROXY=" + noPullProxy, "HTTP_PROXY=" + noPullProxy, "NO_PROXY="}
	if err := n.containerd.start(); err != nil {
		return err
	}
	err := n.cluster.waitFor(ctx, n.containerd, "containerd of "+n.name, func(ctx context.Context) (bool, error) {
		return n.ctr(ctx, "version") == nil, nil
	})
	if err != nil {
		return err
	}
	for _, img := range images {
		if err := n.importImage(ctx, img); err != nil {
			return err
		}
	}
	c := n.cluster
	n.kubelet = newProcess(n.name+"/kubelet", c.bin.kubelet, n.path("kubelet.log"),
		"--config="+n.path("kubelet.yaml"),
		"--kubeconfig="+n.path("kubeconfig"),
		"--root-dir="+n.path("kubelet"),
		"--cert-dir="+n.path("kubelet", "pki"),
		"--hostname-override="+n.name,
		"--node-ip="+n.address().String(),
		"--node-labels="+strings.Join([]string{
			LabelRegion + "=" + c.Region,
			LabelZone + "=" + c.Zone,
			LabelRealNode + "=true",
		}, ","),
		"--v=1",
	)
	return n.kubelet.start()
}

// ctr runs containerd's client against the node's containerd, in the
// Kubernetes namespace.
func (n *realNode) ctr(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"--address", n.socket(), "--namespace", "k8s.io"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// importImage loads an image tarball into the node's containerd.
func (n *realNode) importImage(ctx context.Context, tarPath string) error {
	return n.ctr(ctx, "images", "import", tarPath)
}

// drain cordons the node, deletes the pods bound to it and waits, briefly, for the
// kubelet to stop them, so that their sandboxes' networks are torn down by
// CNI rather than left behind.
func (n *realNode) drain(ctx context.Context, client kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Cordoned first: the controllers' replacements of the deleted pods
	// must not come back to this node, or it would never be empty.
	cordon := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := client.CoreV1().Nodes().Patch(ctx, n.name, types.StrategicMergePatchType, cordon, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cordoning: %w", err)
	}
	sel := fields.OneTermEqualSelector("spec.nodeName", n.name).String()
	// A grace period of 0 would delete the pods at once, without waiting
	// for the kubelet; 1 s lets it stop them and then confirm.
	grace := int64(1)
	pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return err
	}
	for _, p := range pods.Items {
		client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	return wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		pods, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: sel})
		return err == nil && len(pods.Items) == 0, nil
	})
}

// stop undoes everything the node did to the machine: it stops the kubelet
// and containerd, kills what is left in the node's cgroups (shims and
// containers), removes the cgroups, unmounts everything under the node's
// directory and removes the bridge.
func (n *realNode) stop() error {
	var errs []error
	if n.kubelet != nil {
		if err := n.kubelet.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	// What containerd still holds, drained or not (the kubelet removes
	// stopped containers only when it collects garbage), names the files it
	// leaves outside the node's directory.
	ids := n.taskIDs()
	if n.containerd != nil && n.containerd.running() {
		listed, _ := n.containerIDs()
		ids = append(ids, listed...)
		if err := n.containerd.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	// Shims run in sessions of their own, outside the node's cgroups; each
	// names the node's containerd socket on its command line.
	for _, pid := range processesMentioning(n.socket()) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := removeCgroupRoot(n.cgroupRoot); err != nil {
		errs = append(errs, err)
	}
	if err := unmountUnder(n.dir); err != nil {
		errs = append(errs, err)
	}
	if err := n.removeMachineFiles(n.socket(), ids); err != nil {
		errs = append(errs, err)
	}
	if n.bridgeUp {
		if err := ip("link", "del", n.subnet.bridge); err != nil {
			errs = append(errs, err)
		}
		n.bridgeUp = false
	}
	n.subnet.release()
	return errors.Join(errs...)
}

// processesMentioning returns the PIDs of processes whose command line
// contains s.
func processesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// containerIDs lists the IDs of the node's containers, pod sandboxes
// included.
func (n *realNode) containerIDs() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ctr", "--address", n.socket(), "--namespace", "k8s.io", "containers", "list", "--quiet").Output()
	if err != nil {
		return nil, fmt.Errorf("listing containers of %s: %w", n.name, err)
	}
	return strings.Fields(string(out)), nil
}

// taskIDs lists the containers that have, or had until a crash, a task in
// containerd's state directory: these are the ones whose shims may have
// been killed.
func (n *realNode) taskIDs() []string {
	entries, _ := os.ReadDir(filepath.Join(n.dir, "containerd", "state", "io.containerd.runtime.v2.task", "k8s.io"))
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Name())
	}
	return ids
}

// removeMachineFiles removes what the node's containers left outside its
// directory, where containerd 1.6, libcni and the kubelet put files
// whatever their configuration says: a killed shim's socket in
// /run/containerd/s (named by the SHA-256 of containerd's address, the
// namespace and the container ID), CNI results cached in
// /var/lib/cni/results for sandboxes never stopped, and the kubelet's links
// in /var/log/containers to the node's container logs.
func (n *realNode) removeMachineFiles(socket string, ids []string) error {
	var errs []error
	remove := func(p string) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	results, _ := os.ReadDir("/var/lib/cni/results")
	for _, id := range ids {
		sum := sha256.Sum256([]byte(socket + "/k8s.io/" + id))
		remove(filepath.Join("/run/containerd/s", hex.EncodeToString(sum[:])))
		for _, r := range results {
			if strings.Contains(r.Name(), "-"+id+"-") {
				remove(filepath.Join("/var/lib/cni/results", r.Name()))
			}
		}
	}
	links, _ := os.ReadDir("/var/log/containers")
	for _, l := range links {
		p := filepath.Join("/var/log/containers", l.Name())
		if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, n.dir+"/") {
			remove(p)
		}
	}
	return errors.Join(errs...)
}
