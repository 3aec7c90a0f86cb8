//go:build e2e

// Package delegation_test checks `kubectl fed dns install --all-clusters`
// and the delegation it prints, end to end with real DNS software.
//
// In the lab, each cluster has one real node (a kubelet and containerd on a
// bridge of its own) beside its kwok nodes: coredns-fed runs there as the
// pods of the Deployment install applies, from the image `make lab-image`
// builds, with deploy/'s manifests as users get them. Every query the tests
// send to a cluster's nameserver goes to its coredns-fed Service's
// load-balancer address (10.224.0.0 to 10.254.255.255, routed locally),
// port 53, where the lab's load balancer forwards UDP and TCP to the ready
// pods; some go to the pods' own addresses on their node's bridge. The
// sample app, the lab's hello image, runs on the real nodes too, and its
// Services' addresses are what coredns-fed answers.
//
// What is not part of a cluster runs as host processes on loopback: the
// parent zone example.com, served by CoreDNS's file plugin with the records
// install printed, Debian's unbound resolving through that delegation, and
// Zonemaster. Nothing leaves the machine. Without root, Debian's
// containerd, runc and CNI plugins, or the image, no lab starts and every
// test skips, saying what is missing.
package delegation_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "demo.example.com"
	parentZone = "example.com"
	host       = "usa"
	appNS      = "default"
	appName    = "web"
	// ttl is the answers' TTL that install sets.
	ttl = 5
)

// appFQDN is the sample app's federated name.
const appFQDN = appName + "." + appNS + "." + federation + ".svc." + domain + "."

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
	members = []string{"usa", "eur", "jpn"}
)

func TestMain(m *testing.M) {
	realNodes := map[string]int{"usa": 1, "eur": 1, "jpn": 1}
	os.Exit(framework.RunFederatedLab(m, "delegation", host, members, realNodes, func(_ context.Context, l *lab.Lab, k *framework.Kubectl) (func(), error) {
		testLab, kubectl = l, k
		return nil, nil
	}))
}

// installation is what the tests share: the sample app in every cluster,
// and coredns-fed installed with --all-clusters.
type installation struct {
	// result is install's run.
	result framework.Result
	// records are the NS and glue records install printed.
	records []dns.RR
	// server is the load-balancer address of coredns-fed in each cluster,
	// the nameserver's address.
	server map[string]netip.Addr
	// app is the load-balancer address of the sample app in each cluster.
	app map[string]netip.Addr
}

var (
	setUpOnce sync.Once
	installed *installation
	setUpErr  error
)

// setUp deploys the sample app and installs coredns-fed, once for the
// package's tests.
func setUp(t *testing.T) *installation {
	t.Helper()
	setUpOnce.Do(func() {
		installed, setUpErr = install(context.Background())
	})
	if setUpErr != nil {
		t.Fatalf("setting up: %v", setUpErr)
	}
	return installed
}

func install(ctx context.Context) (*installation, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	in := &installation{server: map[string]netip.Addr{}, app: map[string]netip.Addr{}}
	var mu sync.Mutex
	errs := make([]error, len(testLab.Clusters))
	var wg sync.WaitGroup
	for i, c := range testLab.Clusters {
		wg.Go(func() {
			addr, err := framework.DeployApp(ctx, c.Client(), appNS, appName, 1, 90*time.Second)
			if err != nil {
				errs[i] = fmt.Errorf("the sample app in %s: %w", c.Name, err)
				return
			}
			mu.Lock()
			in.app[c.Name] = addr
			mu.Unlock()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}

	res, err := kubectl.Run(ctx, "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--timeout", "2m")
	if err != nil {
		return nil, err
	}
	in.result = res
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("install failed:\n%s", res)
	}
	if in.records, err = delegationRecords(res.Stdout); err != nil {
		return nil, fmt.Errorf("%v, in:\n%s", err, res.Stdout)
	}

	if in.server, err = serversReady(ctx, in.app, in.records); err != nil {
		return nil, err
	}
	return in, nil
}

// delegationRecords returns the NS, A and AAAA records of the zone in what
// install printed, in zone-file syntax.
func delegationRecords(out string) ([]dns.RR, error) {
	var rrs []dns.RR
	for line := range strings.Lines(out) {
		if !strings.Contains(line, "\tIN\t") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, fmt.Errorf("install printed a record that does not parse: %q: %v", line, err)
		}
		if rr != nil && dns.IsSubDomain(domain+".", rr.Header().Name) {
			rrs = append(rrs, rr)
		}
	}
	if len(rrs) == 0 {
		return nil, fmt.Errorf("install printed no records for %s", domain)
	}
	return rrs, nil
}

// lbAddr returns the one load-balancer address of a Service.
func lbAddr(svc *corev1.Service) (netip.Addr, error) {
	ing := svc.Status.LoadBalancer.Ingress
	if len(ing) != 1 {
		return netip.Addr{}, fmt.Errorf("%d load-balancer addresses, want 1", len(ing))
	}
	return netip.ParseAddr(ing[0].IP)
}
