package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file ties real nodes into a lab cluster: the API server's side of it
// (advertise address, kubelet client certificate, the forwarder pods reach
// it through) and the order nodes start and stop in.

// RealNodesUnsupported returns nil when this machine can run real lab nodes,
// and otherwise an error that says what is missing and how to get it. binDir
// is the directory of the lab's programs; empty means FindBinDir.
func RealNodesUnsupported(binDir string) error {
	if os.Geteuid() != 0 {
		return errors.New("real lab nodes need root: a kubelet and containerd manage mounts, cgroups and network links")
	}
	var missing []string
	for _, prog := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "ip"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	for _, plugin := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, plugin)); err != nil {
			missing = append(missing, filepath.Join(cniBinDir, plugin))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("real lab nodes need %v: install them with `apt-get install -y containerd runc containernetworking-plugins iproute2` (Debian 12)", missing)
	}
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return err
		}
	}
	for _, prog := range []string{"kubelet", "pause", "hello"} {
		if _, err := os.Stat(filepath.Join(binDir, prog)); err != nil {
			return fmt.Errorf("lab program %s is missing from %s: run `make lab-bin` to build it", prog, binDir)
		}
	}
	return nil
}

// cniBinDir is where Debian's containernetworking-plugins puts the plugins.
const cniBinDir = "/usr/lib/cni"

// serviceIP is the ClusterIP of the cluster's `kubernetes` Service: the
// first address of its Service range.
func (c *Cluster) serviceIP() netip.Addr {
	return netip.MustParsePrefix(c.ServiceCIDR).Addr().Next()
}

// prepareRealNodes claims a subnet for each real node. It returns the
// address the API server advertises, which pods reach, or 127.0.0.1 when
// the cluster has no real node.
func (c *Cluster) prepareRealNodes() (netip.Addr, error) {
	if c.RealNodes == 0 {
		return netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	// The `kubernetes` ClusterIP is relayed on the first node's bridge, so
	// no two labs on the machine may share it: the Service range is a
	// claimed /24 of the real nodes' range rather than one the cluster's
	// index picks.
	services, f, err := claimReal24("Service range")
	if err != nil {
		return netip.Addr{}, err
	}
	c.serviceClaim = &poolClaim{prefix: services, file: f}
	c.ServiceCIDR = services.String()
	for i := 0; i < c.RealNodes; i++ {
		s, err := claimSubnet()
		if err != nil {
			return netip.Addr{}, err
		}
		c.realNodes = append(c.realNodes, newRealNode(c, i, s))
	}
	return c.realNodes[0].address(), nil
}

// writeRealNodes writes the API server's kubelet client certificate and
// each node's configuration, and returns the API server's flags for real
// nodes: it dials kubelets by InternalIP, checks their certificates against
// the cluster's CA and presents a client certificate in system:masters.
func (c *Cluster) writeRealNodes(ca *certAuthority) ([]string, error) {
	if c.RealNodes == 0 {
		return nil, nil
	}
	crt, key, err := ca.issue(certSpec{
		commonName:    "kube-apiserver-kubelet-client",
		organizations: []string{"system:masters"},
		client:        true,
	})
	if err != nil {
		return nil, err
	}
	if err := writeFiles(c.Dir, map[string][]byte{"kubelet-client.crt": crt, "kubelet-client.key": key}); err != nil {
		return nil, err
	}
	for _, n := range c.realNodes {
		if err := n.prepare(ca); err != nil {
			return nil, fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	return []string{
		"--kubelet-client-certificate=" + c.path("kubelet-client.crt"),
		"--kubelet-client-key=" + c.path("kubelet-client.key"),
		"--kubelet-certificate-authority=" + c.path("ca.crt"),
		"--kubelet-preferred-address-types=InternalIP",
	}, nil
}

// startRealNodes makes the nodes' bridges, forwards the API server to the
// addresses pods dial, and starts each node's containerd and kubelet. The
// caller waits for the nodes to be Ready.
func (c *Cluster) startRealNodes(ctx context.Context) error {
	if len(c.realNodes) == 0 {
		return nil
	}
	if err := addLocalRoute(c.LoadBalancerPool); err != nil {
		return fmt.Errorf("routing the load-balancer pool to the machine: %w", err)
	}
	c.poolRouted = true
	for i, n := range c.realNodes {
		var extra []netip.Addr
		if i == 0 {
			extra = append(extra, c.serviceIP())
		}
		if err := n.setUpBridge(extra...); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	_, port, err := net.SplitHostPort(strings.TrimPrefix(c.loopback, "https://"))
	if err != nil {
		return err
	}
	fwd, err := newTCPForwarder(net.JoinHostPort("127.0.0.1", port),
		net.JoinHostPort(c.realNodes[0].address().String(), port),
		net.JoinHostPort(c.serviceIP().String(), "443"))
	if err != nil {
		return fmt.Errorf("forwarding the API server to the pod network: %w", err)
	}
	c.apiForward = fwd
	for _, n := range c.realNodes {
		if err := n.start(ctx, c.images); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	begin := time.Now()
	client := c.Client()
	for _, n := range c.realNodes {
		err := c.waitFor(ctx, n.kubelet, "real node "+n.name+" Ready", func(ctx context.Context) (bool, error) {
			node, err := client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, cond := range node.Status.Conditions {
				if cond.Type == corev1.NodeReady {
					return cond.Status == corev1.ConditionTrue, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("%w (see %s)", err, n.kubelet.logPath)
		}
	}
	fmt.Fprintf(c.log, "lab: cluster %s: %d real nodes Ready %s after their kubelets started\n",
		c.Name, len(c.realNodes), time.Since(begin).Round(100*time.Millisecond))
	return nil
}

// stopRealNodes drains the real nodes while the API server still runs, then
// stops them and undoes what they did to the machine.
func (c *Cluster) stopRealNodes() error {
	if len(c.realNodes) == 0 {
		return nil
	}
	var errs []error
	if c.apiserver != nil && c.apiserver.running() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		client := c.Client()
		for _, n := range c.realNodes {
			if n.kubelet != nil && n.kubelet.running() {
				if err := n.drain(ctx, client); err != nil {
					// Not fatal: stop kills what is left.
					fmt.Fprintf(c.log, "lab: cluster %s: draining %s: %v\n", c.Name, n.name, err)
				}
			}
		}
		cancel()
	}
	for _, n := range c.realNodes {
		if err := n.stop(); err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.name, err))
		}
	}
	if c.apiForward != nil {
		c.apiForward.Close()
		c.apiForward = nil
	}
	return errors.Join(errs...)
}

// realNodeProcesses returns the real nodes' containerd and kubelet
// processes, those started.
func (c *Cluster) realNodeProcesses() []*process {
	var ps []*process
	for _, n := range c.realNodes {
		for _, p := range []*process{n.containerd, n.kubelet} {
			if p != nil {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// ImportImage loads an image tarball, such as WriteImage writes, into the
// containerd of each of the cluster's real nodes. Pods use it with
// imagePullPolicy Never or IfNotPresent.
func (c *Cluster) ImportImage(ctx context.Context, tarPath string) error {
	if len(c.realNodes) == 0 {
		return fmt.Errorf("cluster %s has no real nodes to import %s into", c.Name, tarPath)
	}
	for _, n := range c.realNodes {
		if err := n.importImage(ctx, tarPath); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	return nil
}

// RealNodeNames returns the names of the cluster's real nodes.
func (c *Cluster) RealNodeNames() []string {
	var names []string
	for _, n := range c.realNodes {
		names = append(names, n.name)
	}
	return names
}

// realNodeNames returns the names of the cluster's real nodes.
func (c *Cluster) realNodeNames() []string {
	var names []string
	for _, n := range c.realNodes {
		names = append(names, n.name)
	}
	return names
}

// writeNodeImages writes the images every real node imports at start, the
// pause image and the sample app's, from the lab's programs into dir, and
// returns their tarballs.
func writeNodeImages(bin binaries, dir string) ([]string, error) {
	var tarballs []string
	for _, img := range []struct{ program, ref, file string }{
		{bin.pause, PauseImage, "pause.tar"},
		{bin.hello, HelloImage, "hello.tar"},
	} {
		tarPath := filepath.Join(dir, img.file)
		if err := WriteImage(img.program, img.ref, tarPath); err != nil {
			return nil, fmt.Errorf("writing the image %s: %w", img.ref, err)
		}
		tarballs = append(tarballs, tarPath)
	}
	return tarballs, nil
}
