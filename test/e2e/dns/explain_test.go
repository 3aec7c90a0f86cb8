//go:build e2e

package dns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/explain"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/geodb"
)

// TestExplain runs the real kubectl fed dns explain against a coredns-fed
// with the explain listener, geo policy and the lab's city database, and
// checks that what it reports is what the same server answers over UDP:
// with every member healthy, and with jpn's load balancer down.
//
// The listener is named with --server: the lab's coredns-fed runs as a
// process, and its kwok pods run no code, so the path through the API
// server's pod proxy is covered by the plugin's unit tests only.
func TestExplain(t *testing.T) {
	dir := t.TempDir()
	cities := filepath.Join(dir, "cities.mmdb")
	if err := geodb.Write(cities, geodb.Lab()); err != nil {
		t.Fatal(err)
	}
	explainPort, err := framework.FreeDNSPort()
	if err != nil {
		t.Fatal(err)
	}
	listener := fmt.Sprintf("127.0.0.1:%d", explainPort)
	s := startLossServer(t, shared.Dir, "explain", fmt.Sprintf("policy geo\n        geoip %s\n        explain %s", cities, listener))

	const tokyo, virginia = "192.0.2.0/24", "203.0.113.7"
	waitAnswer(t, s.Addr, tokyo, []string{lbAddr["jpn"].String()})

	// From Tokyo by ECS: jpn, scope /24, as over UDP.
	rep := explainName(t, listener, "--ecs", tokyo)
	reply := askECS(t, s.Addr, tokyo)
	checkReport(t, rep, reply, "jpn", nil)
	if c := rep.Client; c == nil || c.From != explain.FromECS || c.Network != tokyo || c.City != "Tokyo" || c.Country != "JP" {
		t.Errorf("client %+v, want Tokyo's network from ECS", rep.Client)
	}

	// From Virginia by source address: usa, and no ECS in the question or
	// the answer. The same client by ECS gets the same records over UDP.
	rep = explainName(t, listener, "--client", virginia)
	checkReport(t, rep, askECS(t, s.Addr, virginia+"/32"), "usa", nil)
	if c := rep.Client; c == nil || c.From != explain.FromSource || c.Address != virginia || c.City != "Ashburn" || rep.Answer.ECSScope != nil {
		t.Errorf("client %+v, ECS scope %v: want Ashburn from the source address, no scope", rep.Client, rep.Answer.ECSScope)
	}

	// jpn's load balancer down: Tokyo gets eur, and explain says why.
	jpn := lbAddr["jpn"]
	if err := shared.SetLoadBalancerDown(jpn, true); err != nil {
		t.Fatal(err)
	}
	defer shared.SetLoadBalancerDown(jpn, false)
	waitAnswer(t, s.Addr, tokyo, []string{lbAddr["eur"].String()})
	rep = explainName(t, listener, "--ecs", tokyo)
	checkReport(t, rep, askECS(t, s.Addr, tokyo), "eur", []string{"jpn"})

	if err := shared.SetLoadBalancerDown(jpn, false); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, s.Addr, tokyo, []string{jpn.String()})
	checkReport(t, explainName(t, listener, "--ecs", tokyo), askECS(t, s.Addr, tokyo), "jpn", nil)
}

// explainName runs kubectl fed dns explain for the sample app's global
// name, as SERVICE.NAMESPACE, and decodes its JSON.
func explainName(t *testing.T, listener string, args ...string) *explain.Report {
	t.Helper()
	res := kubectl.Succeed(t, append([]string{"fed", "dns", "explain", appName + "." + appNS, "--server", listener, "-o", "json"}, args...)...)
	var rep explain.Report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("decoding %s: %v", res.Stdout, err)
	}
	return &rep
}

// checkReport checks a report against the server's reply to the same
// question: chosen is the member answered, down those whose load balancer
// is down.
func checkReport(t *testing.T, rep *explain.Report, reply *dns.Msg, chosen string, down []string) {
	t.Helper()
	if rep.Query.Name != name("") || rep.Kind != "service" || rep.Level != "global" {
		t.Errorf("query %+v, kind %s, level %s", rep.Query, rep.Kind, rep.Level)
	}
	var want []string
	for _, rr := range reply.Answer {
		want = append(want, rr.String())
	}
	if !slices.Equal(rep.Answer.Records, want) || rep.Answer.Rcode != dns.RcodeToString[reply.Rcode] {
		t.Errorf("explained answer %s %v, the server answered %s %v", rep.Answer.Rcode, rep.Answer.Records, dns.RcodeToString[reply.Rcode], want)
	}
	if len(reply.Answer) == 0 || rep.Answer.TTL != reply.Answer[0].Header().Ttl {
		t.Errorf("TTL %d, reply %v", rep.Answer.TTL, reply.Answer)
	}
	if rep.Query.ECS != "" {
		if e := ecsOf(reply); e == nil || rep.Answer.ECSScope == nil || *rep.Answer.ECSScope != e.SourceScope {
			t.Errorf("ECS scope %v, the reply's %v", rep.Answer.ECSScope, e)
		}
	}
	if p := rep.Policy; p == nil || p.Requested != "geo" || p.Applied != "geo" || p.Source != explain.SourceCorefile {
		t.Errorf("policy %+v, want geo from the Corefile", rep.Policy)
	}
	if len(rep.Clusters) != len(shared.Clusters) {
		t.Fatalf("clusters %+v", rep.Clusters)
	}
	for _, c := range rep.Clusters {
		isDown := slices.Contains(down, c.Name)
		if len(c.EntryPoints) != 1 || c.EntryPoints[0].Address != lbAddr[c.Name].String() {
			t.Errorf("%s: entry points %+v, want its load balancer %s", c.Name, c.EntryPoints, lbAddr[c.Name])
			continue
		}
		ep := c.EntryPoints[0]
		wantProbe := explain.ProbeUp
		if isDown {
			wantProbe = explain.ProbeDown
		}
		if !c.Ready || c.Healthy == isDown || ep.Healthy == isDown || len(ep.Probes) != 1 || ep.Probes[0].Result != wantProbe {
			t.Errorf("%s: ready %v healthy %v, entry point %+v; want ready, probe %s", c.Name, c.Ready, c.Healthy, ep, wantProbe)
		}
		if !isDown && ep.Probes[0].RTTMillis <= 0 {
			t.Errorf("%s: no round trip in %+v", c.Name, ep.Probes)
		}
		if c.Candidate == isDown || c.DistanceKm == nil && !isDown {
			t.Errorf("%s: candidate %v, distance %v", c.Name, c.Candidate, c.DistanceKm)
		}
		if (c.Rank == 1) != (c.Name == chosen) {
			t.Errorf("%s: rank %d, want %s first", c.Name, c.Rank, chosen)
		}
	}
}

// askECS asks s for the global name's A records with an ECS option.
func askECS(t *testing.T, addr, subnet string) *dns.Msg {
	t.Helper()
	r, err := exchangeECS(addr, subnet)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func exchangeECS(addr, subnet string) (*dns.Msg, error) {
	p := netip.MustParsePrefix(subnet)
	m := new(dns.Msg)
	m.SetQuestion(name(""), dns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
		Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice(),
	})
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func ecsOf(m *dns.Msg) *dns.EDNS0_SUBNET {
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				return e
			}
		}
	}
	return nil
}

// waitAnswer waits until s answers a client of subnet with want.
func waitAnswer(t *testing.T, addr, subnet string, want []string) {
	t.Helper()
	if err := waitUntil(context.Background(), 30*time.Second, func() bool {
		r, err := exchangeECS(addr, subnet)
		return err == nil && slices.Equal(framework.Addresses(r), want)
	}); err != nil {
		t.Fatalf("%s: never answered %v", subnet, want)
	}
}
