//go:build e2e

// Package deploy_test checks what installs coredns-fed: the
// deploy/coredns-fed kustomize base against a real API server, coredns-fed
// running with the base's ServiceAccount token, and `kubectl fed dns
// install` and `kubectl fed dns check` through the real kubectl. One lab
// cluster, usa, is both the host and the only member.
package deploy_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "demo.example.com"
	host       = "usa"
	appNS      = "demo"
	appName    = "web"
)

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
	// appAddr is the sample app's load-balancer address.
	appAddr netip.Addr
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	l, err := framework.StartLab("deploy", []lab.ClusterSpec{{Name: host, Region: "us-east-1", Zone: "us-east-1a", Nodes: 2}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	defer func() { framework.StopLab(l, code == 0) }()
	testLab = l
	if kubectl, err = framework.NewKubectl(l.Kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := setUp(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "setting up:", err)
		return 1
	}
	code = m.Run()
	return code
}

func setUp(ctx context.Context) error {
	for _, args := range [][]string{
		{"fed", "init", federation, "--context", host, "--domain", domain},
		{"fed", "join", host, "--context", host, "--cluster-context", host},
	} {
		res, err := kubectl.Run(ctx, args...)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s", res)
		}
	}
	var err error
	appAddr, err = deployApp(ctx, testLab.Cluster(host).Client())
	return err
}

// deployApp creates the sample app in a cluster and returns its
// load-balancer address once it serves.
func deployApp(ctx context.Context, client kubernetes.Interface) (netip.Addr, error) {
	return framework.DeployApp(ctx, client, appNS, appName, 1, 90*time.Second)
}

// server is a coredns-fed on a loopback port.
type server struct {
	*framework.CoreDNS
	addr string
}

func (s *server) stop() { s.Stop() }

// startServer runs coredns-fed for the federation, reaching the host with
// kubeconfig (its context usa, or its current one when context is "").
func startServer(t *testing.T, kubeconfig, context, nsAddr string) *server {
	t.Helper()
	c := framework.FedServer{
		Zone: domain, Federation: federation, Kubeconfig: kubeconfig, Context: context, NS: nsAddr,
	}.StartTest(t, t.TempDir(), "deploy")
	return &server{CoreDNS: c, addr: c.Addr}
}
