//go:build e2e

package dns_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

// name returns the sample app's name at a location: "" for the global
// name, "<region>." or "<zone>.<region>.".
func name(loc string) string {
	return appName + "." + appNS + "." + federation + ".svc." + loc + domain
}

// query asks the server over proto ("udp" or "tcp") with EDNS0.
func query(proto, qname string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server.addr)
	return r, err
}

func mustQuery(t *testing.T, proto, qname string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := query(proto, qname, qtype)
	if err != nil {
		t.Fatalf("%s %s %s: %v", proto, dns.TypeToString[qtype], qname, err)
	}
	return r
}

func addrsOf(clusters ...string) []string {
	var out []string
	for _, c := range clusters {
		out = append(out, lbAddr[c].String())
	}
	slices.Sort(out)
	return out
}

// TestAnswers is point 1: every level, SRV, and the protocol's answers.
func TestAnswers(t *testing.T) {
	for _, proto := range []string{"udp", "tcp"} {
		t.Run(proto, func(t *testing.T) {
			r := mustQuery(t, proto, name(""), dns.TypeA)
			if got, want := framework.Addresses(r), addrsOf("usa", "eur", "jpn"); !slices.Equal(got, want) {
				t.Errorf("global: %v, want %v", got, want)
			}
			if !r.Authoritative || r.Rcode != dns.RcodeSuccess {
				t.Errorf("global: AA %v rcode %s", r.Authoritative, dns.RcodeToString[r.Rcode])
			}
			if r.Answer[0].Header().Ttl != 5 {
				t.Errorf("TTL %d, want 5", r.Answer[0].Header().Ttl)
			}
			if r.IsEdns0() == nil {
				t.Error("no EDNS0 in the reply to an EDNS0 query")
			}
			for _, c := range shared.Clusters {
				for _, loc := range []string{c.Region + ".", c.Zone + "." + c.Region + "."} {
					r := mustQuery(t, proto, name(loc), dns.TypeA)
					if got, want := framework.Addresses(r), addrsOf(c.Name); !slices.Equal(got, want) {
						t.Errorf("%s: %v, want %s's %v", name(loc), got, c.Name, want)
					}
				}
			}
			// Case-insensitive.
			r = mustQuery(t, proto, strings.ToUpper(name("eu-west-1.")), dns.TypeA)
			if got, want := framework.Addresses(r), addrsOf("eur"); !slices.Equal(got, want) {
				t.Errorf("upper case: %v, want %v", got, want)
			}

			// SRV for the named port.
			r = mustQuery(t, proto, "_http._tcp."+name(""), dns.TypeSRV)
			var targets []string
			for _, rr := range r.Answer {
				srv := rr.(*dns.SRV)
				if srv.Port != 8080 {
					t.Errorf("SRV port %d, want 8080", srv.Port)
				}
				targets = append(targets, srv.Target)
			}
			slices.Sort(targets)
			var want []string
			for _, c := range []string{"eur", "jpn", "usa"} {
				want = append(want, c+"."+name(""))
			}
			if !slices.Equal(targets, want) {
				t.Errorf("SRV targets %v, want %v", targets, want)
			}
			if got := len(r.Extra); got < 3 {
				t.Errorf("SRV additional section has %d records, want the 3 targets' addresses", got)
			}
			r = mustQuery(t, proto, "jpn."+name(""), dns.TypeA)
			if got, want := framework.Addresses(r), addrsOf("jpn"); !slices.Equal(got, want) {
				t.Errorf("SRV target jpn: %v, want %v", got, want)
			}

			// The apex.
			r = mustQuery(t, proto, domain, dns.TypeSOA)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Ns != "ns1."+domain || !r.Authoritative {
				t.Errorf("SOA: %v", r)
			}
			r = mustQuery(t, proto, domain, dns.TypeNS)
			if len(r.Answer) != 1 || r.Answer[0].(*dns.NS).Ns != "ns1."+domain || len(r.Extra) == 0 {
				t.Errorf("NS with glue: %v", r)
			}

			// NXDOMAIN and NODATA, with the SOA; REFUSED outside.
			r = mustQuery(t, proto, "nope."+appNS+"."+federation+".svc."+domain, dns.TypeA)
			if r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA || !r.Authoritative {
				t.Errorf("NXDOMAIN: %v", r)
			}
			r = mustQuery(t, proto, name(""), dns.TypeTXT)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA {
				t.Errorf("NODATA: %v", r)
			}
			r = mustQuery(t, proto, appNS+"."+federation+".svc."+domain, dns.TypeA)
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
				t.Errorf("empty non-terminal: %v", r)
			}
			r = mustQuery(t, proto, "example.org.", dns.TypeA)
			if r.Rcode != dns.RcodeRefused {
				t.Errorf("outside the zone: %s, want REFUSED", dns.RcodeToString[r.Rcode])
			}
			r = mustQuery(t, proto, name(""), dns.TypeANY)
			if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeHINFO {
				t.Errorf("ANY: %v", r)
			}
		})
	}
}

// measure takes the time from start, just before a change, until the
// global answer stops (gone) or starts (!gone) holding addr, asking every
// 50 ms, for up to limit+30s. It fails the test when that takes longer
// than limit, unless limit is 0.
func measure(t *testing.T, what string, start time.Time, addr netip.Addr, gone bool, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit + 30*time.Second)
	for {
		r, err := query("udp", name(""), dns.TypeA)
		if err == nil && slices.Contains(framework.Addresses(r), addr.String()) != gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the answer did not change within %s", what, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	t.Logf("%s: %s (limit %s)", what, took.Round(time.Millisecond), limit)
	if limit > 0 && took > limit {
		t.Errorf("%s took %s, over %s", what, took.Round(time.Millisecond), limit)
	}
}

func scale(t *testing.T, client kubernetes.Interface, replicas int32) {
	t.Helper()
	// A patch carries no resourceVersion, so it cannot lose a race with
	// the controllers that update the Deployment's status.
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	if _, err := client.AppsV1().Deployments(appNS).Patch(context.Background(), appName, types.MergePatchType, patch, metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
}

// TestFailoverScaleToZero is point 2: no ready endpoint in jpn.
func TestFailoverScaleToZero(t *testing.T) {
	client := shared.Cluster("jpn").Client()
	start := time.Now()
	scale(t, client, 0)
	measure(t, "jpn scaled to 0, address gone", start, lbAddr["jpn"], true, 2*time.Second)
	// jpn's region falls back to the global answer, flattened.
	r := mustQuery(t, "udp", name("ap-northeast-1."), dns.TypeA)
	if got, want := framework.Addresses(r), addrsOf("usa", "eur"); !slices.Equal(got, want) {
		t.Errorf("ap-northeast-1 with jpn down: %v, want the global answer %v", got, want)
	}
	// Wait for the pods to go, so that coming back is a real recovery.
	if err := waitUntil(context.Background(), 60*time.Second, func() bool {
		pods, err := client.CoreV1().Pods(appNS).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + appName})
		return err == nil && len(pods.Items) == 0
	}); err != nil {
		t.Fatalf("jpn's pods did not go: %v", err)
	}
	start = time.Now()
	scale(t, client, 2)
	measure(t, "jpn scaled to 2, address back", start, lbAddr["jpn"], false, 0)
}

// TestFailoverLoadBalancerDown is point 2: eur's address refuses
// connections while its endpoints stay ready.
func TestFailoverLoadBalancerDown(t *testing.T) {
	addr := lbAddr["eur"]
	start := time.Now()
	if err := shared.SetLoadBalancerDown(addr, true); err != nil {
		t.Fatal(err)
	}
	defer shared.SetLoadBalancerDown(addr, false)
	measure(t, "eur load balancer down, address gone", start, addr, true, 3*time.Second)
	start = time.Now()
	if err := shared.SetLoadBalancerDown(addr, false); err != nil {
		t.Fatal(err)
	}
	measure(t, "eur load balancer up, address back", start, addr, false, 0)
}

// TestFailoverMemberDown is point 2: jpn's API server stops, then its
// address goes down. The address comes back once it answers again, before
// the API server does: probes alone keep the last known entry points.
func TestFailoverMemberDown(t *testing.T) {
	jpn := shared.Cluster("jpn")
	addr := lbAddr["jpn"]
	if err := jpn.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	defer jpn.StartAPIServer(context.Background())
	// Still answered: the API server is gone, the address is not.
	time.Sleep(2 * time.Second)
	if r := mustQuery(t, "udp", name(""), dns.TypeA); !slices.Contains(framework.Addresses(r), addr.String()) {
		t.Fatalf("jpn's API server down, its address still up: answer %v lacks it", framework.Addresses(r))
	}
	start := time.Now()
	if err := shared.SetLoadBalancerDown(addr, true); err != nil {
		t.Fatal(err)
	}
	defer shared.SetLoadBalancerDown(addr, false)
	measure(t, "jpn API server and address down, address gone", start, addr, true, 3*time.Second)
	start = time.Now()
	if err := shared.SetLoadBalancerDown(addr, false); err != nil {
		t.Fatal(err)
	}
	measure(t, "jpn address up, API server still down, address back", start, addr, false, 0)
	// Its last sync stopped when its API server did; eur's goes on.
	if age := syncAge(t, server.metricsAddr, "jpn"); age < 2*time.Second {
		t.Errorf("jpn's API server down for over 2s: its last sync was %s ago", age)
	}
	if age := syncAge(t, server.metricsAddr, "eur"); age > 2*time.Second {
		t.Errorf("eur answering: its last sync was %s ago, want under 2s", age)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := jpn.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	waitSynced(t, "jpn")
}

// TestJoinAndUnjoin is point 3: a fourth cluster, from a second lab,
// joins while the server runs and shows up; an unjoin removes it.
func TestJoinAndUnjoin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	aus, err := lab.Start(ctx, lab.Options{
		Dir:      filepath.Join(dir, "lab"),
		Clusters: []lab.ClusterSpec{{Name: "aus", Region: "ap-southeast-2", Zone: "ap-southeast-2a"}},
		Log:      os.Stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer aus.Stop()
	addr, err := deployApp(ctx, aus.Cluster("aus").Client())
	if err != nil {
		t.Fatal(err)
	}
	k := *kubectl
	k.Kubeconfig = framework.MergeKubeconfigs(t, shared.Kubeconfig, aus.Kubeconfig)
	start := time.Now()
	k.Succeed(t, "fed", "join", "aus", "--context", "usa", "--cluster-context", "aus")
	t.Logf("kubectl fed join aus took %s", time.Since(start).Round(time.Millisecond))
	measure(t, "aus joined, address in the global answer (from the start of join)", start, addr, false, 0)
	r := mustQuery(t, "tcp", name("ap-southeast-2a.ap-southeast-2."), dns.TypeA)
	if got := framework.Addresses(r); !slices.Equal(got, []string{addr.String()}) {
		t.Errorf("aus's zone: %v, want [%s]", got, addr)
	}

	start = time.Now()
	k.Succeed(t, "fed", "unjoin", "aus", "--context", "usa")
	t.Logf("kubectl fed unjoin aus took %s", time.Since(start).Round(time.Millisecond))
	measure(t, "aus unjoined, address gone (from the start of unjoin)", start, addr, true, 0)
	r = mustQuery(t, "udp", name("ap-southeast-2."), dns.TypeA)
	if r.Rcode != dns.RcodeNameError {
		t.Errorf("aus's region after the unjoin: %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
}

// TestReadyAndMetrics checks the ready plugin's view and that the
// plugin's metrics are exported.
func TestReadyAndMetrics(t *testing.T) {
	resp, err := http.Get("http://" + server.readyAddr + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ready: %s", resp.Status)
	}
	resp, err = http.Get("http://" + server.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`coredns_fed_member_sync_state{cluster="eur",server="dns://127.0.0.1:` + server.port + `",state="synced"} 1`,
		`coredns_fed_entry_points{cluster="jpn",server="dns://127.0.0.1:` + server.port + `"} 1`,
		`coredns_fed_healthy_entry_points{cluster="usa",server="dns://127.0.0.1:` + server.port + `"} 1`,
		`coredns_fed_probe_duration_seconds_bucket{cluster="usa",server="dns://127.0.0.1:` + server.port + `",type="tcp"`,
		`coredns_fed_probe_failures_total{`,
		`coredns_fed_answers_total{level="global",outcome="success",server="dns://127.0.0.1:` + server.port + `"}`,
		`coredns_fed_answers_total{level="region",outcome="fallback",`,
		`coredns_fed_answers_total{level="global",outcome="nxdomain",`,
		`coredns_fed_index_rebuild_duration_seconds_count{server="dns://127.0.0.1:` + server.port + `"}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestHostDown is point 4: with the host's API server stopped, answers go
// on from the last known membership. It runs last, since the host is
// where kubectl fed works.
func TestHostDown(t *testing.T) {
	usa := shared.Cluster("usa")
	if err := usa.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	defer usa.StartAPIServer(context.Background())
	want := addrsOf("usa", "eur", "jpn")
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		for _, proto := range []string{"udp", "tcp"} {
			r := mustQuery(t, proto, name(""), dns.TypeA)
			if got := framework.Addresses(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
				t.Fatalf("host down, query %d over %s: %s %v, want %v", n, proto, dns.RcodeToString[r.Rcode], got, want)
			}
			n++
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("host API server down: %d queries over 5s answered in full", n)
	if age := syncAge(t, server.metricsAddr, ""); age < 3*time.Second {
		t.Errorf("the host's API server down for 5s: its last sync was %s ago", age)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := usa.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if r := mustQuery(t, "udp", name(""), dns.TypeA); !slices.Equal(framework.Addresses(r), want) {
		t.Errorf("after the host came back: %v, want %v", framework.Addresses(r), want)
	}
	waitSynced(t, "")
}
