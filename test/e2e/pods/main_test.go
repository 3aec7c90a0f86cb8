//go:build e2e

// Package pods_test drills coredns-fed as real pods: a lab whose host
// cluster usa has two real nodes (a kubelet and containerd each, running the
// image `make lab-image` built), the federation magicring with usa alone,
// and coredns-fed installed by `kubectl fed dns install` from deploy/'s
// manifests. The drills break what operators break (a pod deleted, a node
// drained) while a stream of queries goes through the lab's load balancer to
// the pods, and count what was lost. Without root or the packages the tests
// skip, saying what is missing.
package pods_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	host   = "usa"
	domain = "demo.example.com"
	// deployment is the name of coredns-fed's Deployment, Service and PDB.
	deployment = "coredns-fed"
)

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
	// server is the load-balancer address of coredns-fed in the host.
	server netip.Addr
)

func TestMain(m *testing.M) {
	os.Exit(framework.RunFederatedLab(m, "pods", host, []string{host}, map[string]int{host: 2},
		func(ctx context.Context, l *lab.Lab, k *framework.Kubectl) (func(), error) {
			testLab, kubectl = l, k
			return nil, install(ctx)
		}))
}

// install runs `kubectl fed dns install` in the host and waits until both
// pods are Ready and the load-balancer address answers.
func install(ctx context.Context) error {
	res, err := kubectl.Run(ctx, "fed", "dns", "install", "--context", host, "--timeout", "2m")
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("install failed:\n%s", res)
	}
	if err := waitAvailable(ctx, 2, 2*time.Minute); err != nil {
		return err
	}
	svc, err := testLab.Cluster(host).Client().CoreV1().Services(v1alpha1.Namespace).Get(ctx, deployment, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if len(svc.Status.LoadBalancer.Ingress) != 1 {
		return fmt.Errorf("the Service %s has %d load-balancer addresses, want 1", deployment, len(svc.Status.LoadBalancer.Ingress))
	}
	if server, err = netip.ParseAddr(svc.Status.LoadBalancer.Ingress[0].IP); err != nil {
		return err
	}
	return framework.Poll(ctx, time.Minute, 200*time.Millisecond, func(context.Context) error {
		for _, proto := range []string{"udp", "tcp"} {
			if err := askSOA(proto); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitAvailable waits until the Deployment has rolled out to want replicas,
// all ready and available, and no other pod, within timeout.
func waitAvailable(ctx context.Context, want int32, timeout time.Duration) error {
	client := testLab.Cluster(host).Client()
	return framework.Poll(ctx, timeout, 250*time.Millisecond, func(ctx context.Context) error {
		d, err := client.AppsV1().Deployments(v1alpha1.Namespace).Get(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			return err
		}
		return framework.RolledOut(d, want)
	})
}
