//go:build e2e

// Package dns_test checks coredns-fed end to end: a federation of real lab
// clusters joined with kubectl fed, a sample app in every member, and the
// coredns-fed binary on loopback, asked over UDP and TCP.
package dns_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "demo.example.com."
	appNS      = "demo"
	appName    = "web"
)

// The lab, the server and what the tests need to know of them.
var (
	shared  *lab.Lab
	kubectl *framework.Kubectl
	server  *dnsServer
	// lbAddr is the sample app's load-balancer address in each member.
	lbAddr = map[string]netip.Addr{}
)

func TestMain(m *testing.M) {
	os.Exit(framework.RunFederatedSetUp(m, "dns", "usa", []string{"usa", "eur", "jpn"}, func(ctx context.Context, l *lab.Lab, k *framework.Kubectl) (func(), error) {
		shared, kubectl = l, k
		err := setUp(ctx, l.Dir)
		return func() {
			if server != nil {
				server.stop()
			}
		}, err
	}))
}

// setUp makes the sample app and the server.
func setUp(ctx context.Context, dir string) error {
	for _, c := range shared.Clusters {
		addr, err := deployApp(ctx, c.Client())
		if err != nil {
			return fmt.Errorf("sample app in %s: %w", c.Name, err)
		}
		lbAddr[c.Name] = addr
	}
	var err error
	server, err = startServer(ctx, dir, shared.Kubeconfig)
	if err != nil {
		return err
	}
	// Ready when the global name answers with every member.
	return waitUntil(ctx, 60*time.Second, func() bool {
		r, err := query("udp", name(""), dns.TypeA)
		return err == nil && len(framework.Addresses(r)) == len(shared.Clusters)
	})
}

// deployApp creates the sample app in a cluster and returns its
// load-balancer address once it serves.
func deployApp(ctx context.Context, client kubernetes.Interface) (netip.Addr, error) {
	return framework.DeployApp(ctx, client, appNS, appName, 2, 60*time.Second)
}

// dnsServer is a running coredns-fed with its ready and metrics addresses.
type dnsServer struct {
	*framework.CoreDNS
	addr, port             string
	readyAddr, metricsAddr string
}

func (s *dnsServer) stop() { s.Stop() }

// startServer starts coredns-fed on a free loopback port with a Corefile
// for the lab's federation.
func startServer(ctx context.Context, dir, kubeconfig string) (*dnsServer, error) {
	var ports [2]int
	for i := range ports {
		var err error
		if ports[i], err = framework.FreeDNSPort(); err != nil {
			return nil, err
		}
	}
	readyAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	c, err := framework.FedServer{
		Zone: domain, Federation: federation, Kubeconfig: kubeconfig, Context: "usa",
		After: []string{"ready " + readyAddr, "prometheus " + metricsAddr},
	}.Start(dir, "dns")
	if err != nil {
		return nil, err
	}
	return &dnsServer{CoreDNS: c, addr: c.Addr, port: fmt.Sprint(c.Port), readyAddr: readyAddr, metricsAddr: metricsAddr}, nil
}

var waitUntil = framework.WaitUntil
