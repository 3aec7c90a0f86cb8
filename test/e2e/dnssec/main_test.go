//go:build e2e

// Package dnssec_test checks `kubectl fed dns install --dnssec` end to end:
// the key set it makes in the host, the DS records it prints, every
// coredns-fed signing with that one key set, and Debian's unbound
// validating the answers through a parent zone that CoreDNS's sign plugin
// signed and that holds the DS.
//
// As in test/e2e/delegation, each cluster has one real node where
// coredns-fed runs as the pods install applies, reached at its Service's
// load-balancer address; the parent zone, unbound and Zonemaster run as
// host processes on loopback, and so do the coredns-fed servers some tests
// start themselves (a geo server, a server signing with other keys),
// which read the federation and its keys from the host as a member's
// coredns-fed does. Nothing leaves the machine.
package dnssec_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

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
	// ttl and nsTTL are the TTLs install sets: short, so that a key roll
	// waits seconds, not hours.
	ttl   = 5
	nsTTL = 10
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
	os.Exit(framework.RunFederatedLab(m, "dnssec", host, members, realNodes, func(_ context.Context, l *lab.Lab, k *framework.Kubectl) (func(), error) {
		testLab, kubectl = l, k
		return nil, nil
	}))
}

// installation is what the tests share: the sample app in every cluster,
// and coredns-fed installed with --all-clusters --dnssec.
type installation struct {
	result framework.Result
	// records are the NS, glue and DS records install printed.
	records []dns.RR
	// ds are the DS records among them.
	ds []*dns.DS
	// servers are the nameservers' addresses, port 53.
	servers []string
	// app is the sample app's load-balancer address in each cluster.
	app map[string]netip.Addr
}

var (
	setUpOnce sync.Once
	installed *installation
	setUpErr  error
)

// setUp deploys the sample app and installs signing coredns-fed servers,
// once for the package's tests.
func setUp(t *testing.T) *installation {
	t.Helper()
	framework.SkipWithoutRealPods(t)
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
	in := &installation{app: map[string]netip.Addr{}}
	for _, c := range testLab.Clusters {
		addr, err := framework.DeployApp(ctx, c.Client(), appNS, appName, 1, 90*time.Second)
		if err != nil {
			return nil, fmt.Errorf("the sample app in %s: %w", c.Name, err)
		}
		in.app[c.Name] = addr
	}
	res, err := kubectl.Run(ctx, "fed", "dns", "install", "--context", host, "--all-clusters", "--dnssec",
		"--ttl", fmt.Sprint(ttl), "--ns-ttl", fmt.Sprint(nsTTL), "--timeout", "2m")
	if err != nil {
		return nil, err
	}
	in.result = res
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("install failed:\n%s", res)
	}
	for line := range strings.Lines(res.Stdout) {
		if !strings.Contains(line, "\tIN\t") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, fmt.Errorf("install printed a record that does not parse: %q: %v", line, err)
		}
		in.records = append(in.records, rr)
		switch rr := rr.(type) {
		case *dns.DS:
			in.ds = append(in.ds, rr)
		case *dns.A:
			in.servers = append(in.servers, netip.AddrPortFrom(netip.AddrFrom4([4]byte(rr.A.To4())), 53).String())
		}
	}
	if len(in.ds) == 0 || len(in.servers) != len(members) {
		return nil, fmt.Errorf("install printed %d DS records and glue for %d servers, want DS records and %d servers:\n%s", len(in.ds), len(in.servers), len(members), res.Stdout)
	}
	// Every server answers the app's name, signed.
	for _, server := range in.servers {
		err := framework.Poll(ctx, 2*time.Minute, 250*time.Millisecond, func(context.Context) error {
			r, err := askDO(server, appFQDN, dns.TypeA, nil)
			if err != nil {
				return err
			}
			if len(framework.Addresses(r)) != len(members) || !hasRRSIG(r.Answer) {
				return fmt.Errorf("answers %s", r)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("server %s: %w", server, err)
		}
	}
	return in, nil
}

// askDO asks server for name and qtype over UDP, with the DO bit and opts.
func askDO(server, name string, qtype uint16, opts []dns.EDNS0) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, opts...)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(m, server)
	}
	return r, err
}

// dnskeyTags returns the tags of the DNSKEY records of r's answer, sorted.
func dnskeyTags(r *dns.Msg) []uint16 {
	var tags []uint16
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			tags = append(tags, k.KeyTag())
		}
	}
	slices.Sort(tags)
	return tags
}

func hasRRSIG(rrs []dns.RR) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeRRSIG {
			return true
		}
	}
	return false
}
