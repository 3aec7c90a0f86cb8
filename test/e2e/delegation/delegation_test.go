//go:build e2e

package delegation_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// failoverBudget bounds how long after a cluster's app fails coredns-fed
// stops answering with it: its readiness leaves the EndpointSlice at once,
// and its probes fail within about 2.2 s. A resolver may then keep the old
// answer for the TTL.
const failoverBudget = 5 * time.Second

// TestDelegation is done-when 6: a real recursive resolver resolves the
// app's federated name through the delegation that install printed, and
// its answers follow a failure and a recovery within the TTL. The parent
// refers it to the nameservers' load-balancer addresses, and the lab's
// load balancer hands its queries to the coredns-fed pods.
func TestDelegation(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	logServersOnFailure(t)
	dir := t.TempDir()

	parent := startParent(t, dir, in.records)
	port, err := framework.FreeDNSPort()
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := framework.StartUnbound(dir, port, []framework.Stub{
		{Zone: parentZone, Addrs: []string{parent.Addr}},
		// Unbound never leaves loopback, whatever it looks for.
		{Zone: ".", Addrs: []string{parent.Addr}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		resolver.Stop()
		if t.Failed() {
			framework.LogTail(t, "unbound", resolver.LogPath)
		}
	})

	// Through the delegation: the resolver starts at the parent, which
	// refers it to coredns-fed, whose answer has its short TTL and the live
	// addresses of every cluster.
	all := addrsOf(in.app, members...)
	framework.Eventually(t, 20*time.Second, 250*time.Millisecond, "unbound resolves "+appFQDN, func(context.Context) error {
		return answers(resolver.Addr, "udp", all)
	})
	for _, proto := range []string{"udp", "tcp"} {
		r, err := ask(resolver.Addr, proto, appFQDN, dns.TypeA)
		if err != nil {
			t.Fatalf("%s: %v", proto, err)
		}
		if r.Rcode != dns.RcodeSuccess || !r.RecursionAvailable || r.Authoritative {
			t.Errorf("%s: rcode %s, RA %v, AA %v: want a resolver's NOERROR", proto, dns.RcodeToString[r.Rcode], r.RecursionAvailable, r.Authoritative)
		}
		if got := framework.Addresses(r); !slices.Equal(got, all) {
			t.Errorf("%s: %v, want %v", proto, got, all)
		}
		for _, rr := range r.Answer {
			if rr.Header().Ttl > ttl {
				t.Errorf("%s: TTL %d, above coredns-fed's %d: the answer did not come from coredns-fed", proto, rr.Header().Ttl, ttl)
			}
		}
	}
	r, err := ask(resolver.Addr, "udp", domain+".", dns.TypeNS)
	if err != nil {
		t.Fatal(err)
	}
	var got, want []string
	for _, rr := range r.Answer {
		if ns, ok := rr.(*dns.NS); ok {
			got = append(got, ns.Ns)
		}
	}
	for _, rr := range in.records {
		if ns, ok := rr.(*dns.NS); ok {
			want = append(want, ns.Ns)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("NS of %s through unbound: %v, want the delegation's %v", domain, got, want)
	}

	// check finds the servers of every cluster, and the delegation.
	res := kubectl.Succeed(t, "fed", "dns", "check", "--context", host, "--name", appName+"."+appNS, "--parent", parent.Addr)
	if want := fmt.Sprintf("All %d server(s) answer for %s.\n", len(members), domain); !strings.Contains(res.Stdout, want) {
		t.Errorf("check did not say %q:\n%s", want, res.Stdout)
	}

	// The app fails in jpn: the resolver's answers leave it once the TTL
	// of what it holds runs out.
	const failed = "jpn"
	rest := addrsOf(in.app, "usa", "eur")
	scale(t, failed, 0)
	took := follow(t, resolver.Addr, rest, all)
	t.Logf("unbound's answer left %s %s after the app failed there (TTL %ds)", failed, took.Round(10*time.Millisecond), ttl)
	if took > ttl*time.Second+failoverBudget {
		t.Errorf("unbound followed the failure after %s, more than the TTL and the failover budget, %s", took, ttl*time.Second+failoverBudget)
	}

	scale(t, failed, 1)
	took = follow(t, resolver.Addr, all, rest)
	t.Logf("unbound's answer had %s back %s after the app recovered", failed, took.Round(10*time.Millisecond))
}

// startParent serves the parent zone with the SOA, its own NS, and the
// delegation records install printed, with CoreDNS's file plugin.
func startParent(t *testing.T, dir string, records []dns.RR) *framework.CoreDNS {
	t.Helper()
	var zone strings.Builder
	fmt.Fprintf(&zone, "$ORIGIN %s.\n$TTL 3600\n", parentZone)
	fmt.Fprintf(&zone, "@\tIN\tSOA\tns.%s. hostmaster.%s. 1 7200 3600 1209600 5\n", parentZone, parentZone)
	fmt.Fprintf(&zone, "@\tIN\tNS\tns.%s.\nns\tIN\tA\t127.0.0.1\n", parentZone)
	for _, rr := range records {
		// Without the TTL install left out, as it printed them.
		h := rr.Header()
		fmt.Fprintf(&zone, "%s\tIN\t%s\t%s\n", h.Name, dns.TypeToString[h.Rrtype], strings.TrimPrefix(rr.String(), h.String()))
	}
	zoneFile := filepath.Join(dir, "db."+parentZone)
	if err := os.WriteFile(zoneFile, []byte(zone.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	port, err := framework.FreeDNSPort()
	if err != nil {
		t.Fatal(err)
	}
	corefile := fmt.Sprintf("%s {\n    bind 127.0.0.1\n    file %s\n    errors\n}\n", parentZone, zoneFile)
	s, err := framework.StartCoreDNS(dir, "parent", corefile, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("the parent zone:\n%s", zone.String())
			framework.LogTail(t, "the parent's CoreDNS", s.LogPath)
		}
	})
	framework.Eventually(t, 10*time.Second, 100*time.Millisecond, "the parent serves "+parentZone, func(context.Context) error {
		r, err := ask(s.Addr, "udp", parentZone+".", dns.TypeSOA)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			return fmt.Errorf("rcode %s, %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
		}
		return nil
	})
	return s
}

// follow polls the resolver every 250 ms until it answers with want, and
// returns how long that took. Every answer on the way must hold the
// addresses in both want and was: the clusters that did not change stay
// answered throughout.
func follow(t *testing.T, resolver string, want, was []string) time.Duration {
	t.Helper()
	var steady []string
	for _, a := range want {
		if slices.Contains(was, a) {
			steady = append(steady, a)
		}
	}
	begin := time.Now()
	reported := false
	framework.Eventually(t, ttl*time.Second+15*time.Second, 250*time.Millisecond, "unbound answers "+strings.Join(want, " "), func(context.Context) error {
		r, err := ask(resolver, "udp", appFQDN, dns.TypeA)
		if err != nil {
			return err
		}
		got := framework.Addresses(r)
		for _, a := range steady {
			if !slices.Contains(got, a) && !reported {
				t.Errorf("after %s, unbound answered %v, without %s, whose cluster did not change", time.Since(begin), got, a)
				reported = true
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("answer %v (rcode %s), want %v", got, dns.RcodeToString[r.Rcode], want)
		}
		return nil
	})
	return time.Since(begin)
}

// scale sets the replicas of the app in one cluster.
func scale(t *testing.T, cluster string, replicas int) {
	t.Helper()
	patch := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	_, err := testLab.Cluster(cluster).Client().AppsV1().Deployments(appNS).Patch(t.Context(), appName, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// ask sends one recursive query over proto.
func ask(server, proto, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	return r, err
}

// answers checks that server answers the app's name with want.
func answers(server, proto string, want []string) error {
	r, err := ask(server, proto, appFQDN, dns.TypeA)
	if err != nil {
		return err
	}
	if got := framework.Addresses(r); !slices.Equal(got, want) {
		return fmt.Errorf("answer %v (rcode %s), want %v", got, dns.RcodeToString[r.Rcode], want)
	}
	return nil
}

// addrsOf returns the app's addresses in some clusters, sorted.
func addrsOf(app map[string]netip.Addr, clusters ...string) []string {
	var out []string
	for _, c := range clusters {
		out = append(out, app[c].String())
	}
	slices.Sort(out)
	return out
}
