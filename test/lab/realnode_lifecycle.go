package lab

// A real node's lifecycle: its bridge, starting containerd and the kubelet
// with the lab's images, then draining and stopping it.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

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
