//go:build e2e

// Package geo_test checks coredns-fed's geo- and latency-aware answers end
// to end: a federation of real lab clusters joined with kubectl fed, the
// sample app in every member behind several Services (one per policy), a
// small .mmdb placing the documentation ranges near the lab's regions, and
// two coredns-fed instances on loopback, asked over UDP with ECS.
package geo_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/geodb"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "demo.example.com."
	appNS      = "demo"
	appName    = "web"
)

// The Services of the sample app, each with the annotations of one policy.
// web follows the Corefile's policy (geo on server a, latency on b).
var services = map[string]map[string]string{
	"web": nil,
	"lat": {"kfed.dev/dns-policy": "latency"},
	"wtd": {"kfed.dev/dns-policy": "weighted", "kfed.dev/dns-weights": "usa=3,eur=1"},
	"fo":  {"kfed.dev/dns-policy": "failover", "kfed.dev/dns-failover": "eur,jpn,usa"},
}

// The probe sources of the two servers: the lab's load balancer can delay
// its answers to one of them.
var (
	sourceA = netip.MustParseAddr("127.0.0.11")
	sourceB = netip.MustParseAddr("127.0.0.12")
)

var (
	shared *lab.Lab
	// serverA answers with policy geo and the test database; serverB with
	// policy latency. Their probes see different round trips: a is fast
	// to jpn only, b to usa only.
	serverA, serverB *dnsServer
	geoPath          string
	// lbAddr is each Service's load-balancer address, by Service and
	// member.
	lbAddr = map[string]map[string]netip.Addr{}
	// clusterOf maps load-balancer addresses to members.
	clusterOf = map[string]string{}
)

func TestMain(m *testing.M) {
	os.Exit(framework.RunFederatedSetUp(m, "geo", "usa", []string{"usa", "eur", "jpn"}, func(ctx context.Context, l *lab.Lab, _ *framework.Kubectl) (func(), error) {
		shared = l
		err := setUp(ctx, l.Dir)
		return func() {
			for _, s := range []*dnsServer{serverA, serverB} {
				if s != nil {
					s.stop()
				}
			}
		}, err
	}))
}

// setUp makes the sample app, the database, the probe delays and the two
// servers.
func setUp(ctx context.Context, dir string) error {
	for _, c := range shared.Clusters {
		addrs, err := deployApp(ctx, c.Client())
		if err != nil {
			return fmt.Errorf("sample app in %s: %w", c.Name, err)
		}
		for svc, a := range addrs {
			if lbAddr[svc] == nil {
				lbAddr[svc] = map[string]netip.Addr{}
			}
			lbAddr[svc][c.Name] = a
			clusterOf[a.String()] = c.Name
		}
	}

	// Server a's probes are slow to usa and eur, b's to jpn and eur.
	slow := map[netip.Addr][]string{sourceA: {"usa", "eur"}, sourceB: {"jpn", "eur"}}
	for from, clusters := range slow {
		for _, c := range clusters {
			for svc := range services {
				if err := shared.SetLoadBalancerDelay(lbAddr[svc][c], from, 100*time.Millisecond); err != nil {
					return err
				}
			}
		}
	}

	geoPath = filepath.Join(dir, "cities.mmdb")
	if err := geodb.Write(geoPath, geodb.Lab()); err != nil {
		return err
	}
	// The table sends Tokyo to usa, which geography would not.
	table := `latency ap-northeast-1 us-east-1 10ms
        latency ap-northeast-1 ap-northeast-1 50ms
        latency ap-northeast-1 eu-west-1 200ms`
	var err error
	serverA, err = startServer(ctx, dir, "a", fmt.Sprintf("policy geo\n        geoip %s\n        geoip_reload 200ms\n        probe_source %s\n        %s", geoPath, sourceA, table))
	if err != nil {
		return err
	}
	serverB, err = startServer(ctx, dir, "b", fmt.Sprintf("policy latency\n        probe_source %s\n        %s", sourceB, table))
	if err != nil {
		return err
	}
	for _, s := range []*dnsServer{serverA, serverB} {
		// Ready when fo answers with eur, the first of its order: the
		// index has the annotations and every member is up.
		if err := waitUntil(ctx, 60*time.Second, func() bool {
			r, err := s.query(name("fo"), dns.TypeA, "")
			return err == nil && strings.Join(clusters(r), ",") == "eur"
		}); err != nil {
			return fmt.Errorf("server %s: %w", s.name, err)
		}
	}
	return nil
}

// deployApp creates the sample app in a member: a Deployment of two pods
// behind one LoadBalancer Service per entry of services, probed over HTTP
// (so that a probe's duration includes the load balancer's answer). It
// returns each Service's load-balancer address once it serves.
func deployApp(ctx context.Context, client kubernetes.Interface) (map[string]netip.Addr, error) {
	if err := framework.DeployWorkload(ctx, client, appNS, appName, 2); err != nil {
		return nil, err
	}
	out := map[string]netip.Addr{}
	for svcName, annotations := range services {
		ann := map[string]string{"kfed.dev/health-check-path": "/"}
		for k, v := range annotations {
			ann[k] = v
		}
		if err := framework.ExposeApp(ctx, client, appNS, appName, svcName, ann); err != nil {
			return nil, err
		}
	}
	for svcName := range services {
		addr, err := framework.WaitForLoadBalancer(ctx, client, appNS, svcName, 60*time.Second)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svcName, err)
		}
		out[svcName] = addr
	}
	return out, nil
}

// dnsServer is a running coredns-fed.
type dnsServer struct {
	*framework.CoreDNS
	name string
	addr string
}

func (s *dnsServer) stop() { s.Stop() }

// startServer starts coredns-fed on a free loopback port with a Corefile
// for the lab's federation and the fed options given.
func startServer(ctx context.Context, dir, name, options string) (*dnsServer, error) {
	c, err := framework.FedServer{
		Zone: domain, Federation: federation, Kubeconfig: shared.Kubeconfig, Context: "usa",
		Options: []string{"probe_interval 300ms", "probe_timeout 300ms", options},
	}.Start(dir, name)
	if err != nil {
		return nil, err
	}
	return &dnsServer{CoreDNS: c, name: name, addr: c.Addr}, nil
}

var waitUntil = framework.WaitUntil
