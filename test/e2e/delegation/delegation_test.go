//go:build e2e

package delegation_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

// failoverBudget bounds how long after a cluster's app fails coredns-fed
// stops answering with it: its readiness leaves the EndpointSlice at once,
// and its probes fail within about 2.2 s. A resolver may then keep the old
// answer for the TTL.
const failoverBudget = 5 * time.Second

// TestDelegation is done-when 6: a real recursive resolver resolves the
// app's federated name through the delegation that install printed, and
// its answers follow a failure and a recovery within the TTL.
func TestDelegation(t *testing.T) {
	in := setUp(t)
	dir := t.TempDir()

	var servers []*framework.CoreDNS
	t.Cleanup(func() { stopAll(servers) })
	for _, c := range testLab.Clusters {
		s := startClusterServer(t, dir, c, in.server[c.Name])
		servers = append(servers, s)
	}
	for i, c := range testLab.Clusters {
		waitForAnswer(t, servers[i], "coredns-fed of "+c.Name, in.app)
	}

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
			logTail(t, "unbound", resolver.LogPath)
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

// startClusterServer runs coredns-fed as the pods of one cluster's
// coredns-fed Deployment would, with the Corefile and settings install
// wrote (see clusterCorefile), on the Service's load-balancer address,
// port 53.
func startClusterServer(t *testing.T, dir string, c *lab.Cluster, addr netip.Addr) *framework.CoreDNS {
	t.Helper()
	corefile, env := clusterCorefile(t, dir, c, addr)
	waitForPort53(t, addr)
	s, err := framework.StartCoreDNSWith(dir, c.Name, corefile, 53, framework.CoreDNSOptions{Host: addr.String(), Env: env})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logTail(t, "coredns-fed of "+c.Name, s.LogPath)
		}
	})
	return s
}

// clusterCorefile returns the Corefile and the settings that install wrote
// into one cluster, made to run in a process outside a pod, bound to addr.
// Only what such a process needs is changed: the health, ready and metrics
// ports move to free loopback ports, the server binds addr, the snapshot
// goes to dir, and the host is reached with a kubeconfig file: the member's
// coredns-fed-host Secret, or, in the host, a token of the coredns-fed
// ServiceAccount as the pod would have it.
func clusterCorefile(t *testing.T, dir string, c *lab.Cluster, addr netip.Addr) (string, []string) {
	t.Helper()
	client := c.Client()
	cm, err := client.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	settings, err := client.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for k, v := range settings.Data {
		env = append(env, k+"="+v)
	}

	kubeconfig := filepath.Join(dir, "kubeconfig."+c.Name)
	corefile := cm.Data["Corefile"]
	if c.Name == host {
		if err := framework.ServiceAccountKubeconfig(t.Context(), c, v1alpha1.Namespace, "coredns-fed", kubeconfig); err != nil {
			t.Fatal(err)
		}
		corefile = mustReplace(t, corefile, regexp.MustCompile(`(fed \{\$KFED_FEDERATION\} \{\n)`), "${1}        kubeconfig "+kubeconfig+"\n")
	} else {
		secret, err := client.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-host", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kubeconfig, secret.Data[v1alpha1.SecretKeyKubeconfig], 0o600); err != nil {
			t.Fatal(err)
		}
		corefile = mustReplace(t, corefile, regexp.MustCompile(`kubeconfig /etc/kfed-host/kubeconfig\n`), "kubeconfig "+kubeconfig+"\n")
	}
	for _, plugin := range []string{"health", "ready", "prometheus"} {
		port, err := framework.FreeDNSPort()
		if err != nil {
			t.Fatal(err)
		}
		corefile = mustReplace(t, corefile, regexp.MustCompile(`(?m)^(\s*`+plugin+`) :\d+`), fmt.Sprintf("${1} 127.0.0.1:%d", port))
	}
	// Every server block, the zone's and the root's that refuses the rest.
	blocks := regexp.MustCompile(`(?m)^(\S[^\n]* \{\n)`)
	if n := len(blocks.FindAllString(corefile, -1)); n != 2 {
		t.Fatalf("the Corefile has %d server blocks, want the zone's and the root's; has install's Corefile changed?\n%s", n, corefile)
	}
	corefile = blocks.ReplaceAllString(corefile, "${1}    bind "+addr.String()+"\n")
	corefile = mustReplace(t, corefile, regexp.MustCompile(`snapshot /var/lib/coredns-fed/snapshot\n`), "snapshot "+filepath.Join(dir, "snapshot."+c.Name)+"\n")
	return corefile, env
}

// mustReplace replaces what re matches in s, which must match once.
func mustReplace(t *testing.T, s string, re *regexp.Regexp, repl string) string {
	t.Helper()
	if n := len(re.FindAllStringIndex(s, -1)); n != 1 {
		t.Fatalf("the Corefile has %d matches of %s, want 1; has install's Corefile changed?\n%s", n, re, s)
	}
	return re.ReplaceAllString(s, repl)
}

// waitForPort53 waits until port 53 of addr is free for UDP and TCP: the
// lab's load balancer lets go of it once it sees the annotation. Binding a
// port below 1024 needs root.
func waitForPort53(t *testing.T, addr netip.Addr) {
	t.Helper()
	ap := netip.AddrPortFrom(addr, 53).String()
	framework.Eventually(t, 15*time.Second, 100*time.Millisecond, "port 53 of "+addr.String()+" is free", func(context.Context) error {
		pc, err := net.ListenPacket("udp", ap)
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			t.Fatalf("cannot bind %s: the test serves DNS on port 53 of the load-balancer addresses, which needs root (or CAP_NET_BIND_SERVICE): %v", ap, err)
		}
		if err != nil {
			return err
		}
		pc.Close()
		l, err := net.Listen("tcp", ap)
		if err != nil {
			return err
		}
		return l.Close()
	})
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
			logTail(t, "the parent's CoreDNS", s.LogPath)
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

// waitForAnswer waits until a coredns-fed has synced and answers the app's
// name with every cluster's address.
func waitForAnswer(t *testing.T, s *framework.CoreDNS, what string, app map[string]netip.Addr) {
	t.Helper()
	all := addrsOf(app, members...)
	framework.Eventually(t, 60*time.Second, 200*time.Millisecond, what+" at "+s.Addr+" answers "+appFQDN, func(context.Context) error {
		select {
		case <-s.Done():
			return fmt.Errorf("it exited; see %s", s.LogPath)
		default:
		}
		return answers(s.Addr, "udp", all)
	})
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

// stopAll stops servers at once: each waits out its lameduck.
func stopAll(servers []*framework.CoreDNS) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(s.Stop)
	}
	wg.Wait()
}

// logTail logs the end of a log file.
func logTail(t *testing.T, what, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Logf("%s: %v", what, err)
		return
	}
	const max = 8000
	if len(data) > max {
		data = data[len(data)-max:]
	}
	t.Logf("%s logged (%s):\n%s", what, path, data)
}
