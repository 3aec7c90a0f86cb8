//go:build e2e

package dns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

// TestHostLoss is done-when 6: a coredns-fed restarted while the host's API
// server is down serves the federation it last knew from its snapshot, and
// follows the members' health from there; once the host is back, the
// host's state replaces the snapshot's. usa is the host and a member, so
// with its API server down usa is answered from what the snapshot says it
// serves, while its probes pass. It runs after TestHostDown, and leaves the
// federation as it found it.
func TestHostLoss(t *testing.T) {
	usa := shared.Cluster("usa")
	dir := t.TempDir()
	snapshot := filepath.Join(dir, "snapshot")
	serial := federationSerial(t)

	// A server with a snapshot, while everything answers.
	s := startLossServer(t, dir, "hostloss-1", "snapshot "+snapshot)
	waitFor(t, s, "first start", addrsOf("usa", "eur", "jpn"), 60*time.Second)
	checkSOA(t, s, serial)
	waitForSnapshot(t, snapshot, "usa", "eur", "jpn")
	if fi, err := os.Stat(snapshot); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the snapshot: %v, mode %v; want 0600, since it holds tokens", err, fi.Mode().Perm())
	}

	// jpn leaves; the snapshot follows. Then, while no server watches,
	// jpn joins again: the snapshot does not know.
	kubectl.Succeed(t, "fed", "unjoin", "jpn", "--context", "usa")
	rejoined := false
	defer func() {
		if !rejoined {
			startHost(t, usa)
			join(t, "jpn")
		}
	}()
	waitFor(t, s, "jpn unjoined", addrsOf("usa", "eur"), 30*time.Second)
	waitForSnapshot(t, snapshot, "usa", "eur")
	s.Stop()
	join(t, "jpn")
	rejoined = true

	// The host goes down, and a server starts: it answers from the
	// snapshot, usa included, with the same serial.
	if err := usa.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	defer startHost(t, usa)
	start := time.Now()
	s = startLossServer(t, dir, "hostloss-2", "snapshot "+snapshot)
	waitFor(t, s, "restarted with the host down", addrsOf("usa", "eur"), 30*time.Second)
	t.Logf("restarted with the host down: full answer %s after the start", time.Since(start).Round(time.Millisecond))
	steady(t, s, addrsOf("usa", "eur"), 3*time.Second)
	checkSOA(t, s, serial)
	if log := readLog(t, s); !strings.Contains(log, "from the snapshot "+snapshot) {
		t.Errorf("the server does not say it synced from the snapshot:\n%s", log)
	}

	// Without a snapshot, a start with the host down can sync nothing:
	// it serves after the startup timeout, says so, answers SERVFAIL, and
	// syncs once the host is back.
	start = time.Now()
	blind := startLossServer(t, dir, "hostloss-blind", "startup_timeout 2s")
	if err := waitUntil(context.Background(), 10*time.Second, func() bool {
		r, err := ask(blind.Addr, "udp", name(""), dns.TypeA)
		return err == nil && r.Rcode == dns.RcodeServerFailure
	}); err != nil {
		t.Fatalf("a start without a snapshot, host down: no SERVFAIL within 10s: %v", err)
	}
	t.Logf("a start without a snapshot, host down, startup_timeout 2s: serving (SERVFAIL) %s after the start", time.Since(start).Round(time.Millisecond))
	if log := readLog(t, blind); !strings.Contains(log, "has not synced within startup_timeout 2s") {
		t.Errorf("a start without a snapshot, host down, does not say it has not synced:\n%s", log)
	}

	// Members' health is followed with the snapshot's credentials.
	eur := shared.Cluster("eur").Client()
	scale(t, eur, 0)
	waitFor(t, s, "eur scaled to 0, host down", addrsOf("usa"), 30*time.Second)
	scale(t, eur, 2)
	waitFor(t, s, "eur scaled to 2, host down", addrsOf("usa", "eur"), 60*time.Second)

	// The host comes back: its state replaces the snapshot's, and jpn,
	// which joined meanwhile, appears.
	start = time.Now()
	startHost(t, usa)
	waitFor(t, s, "host back, jpn appears", addrsOf("usa", "eur", "jpn"), 60*time.Second)
	t.Logf("host back: jpn in the answer %s after the host's API server was started", time.Since(start).Round(time.Millisecond))
	waitFor(t, blind, "host back, the server without a snapshot syncs", addrsOf("usa", "eur", "jpn"), 60*time.Second)
	blind.Stop()
	waitForSnapshot(t, snapshot, "usa", "eur", "jpn")

	// Down again, and restarted again: now every member, from the
	// snapshot written since.
	s.Stop()
	if err := usa.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	s = startLossServer(t, dir, "hostloss-3", "snapshot "+snapshot)
	waitFor(t, s, "restarted again with the host down", addrsOf("usa", "eur", "jpn"), 30*time.Second)
	steady(t, s, addrsOf("usa", "eur", "jpn"), 3*time.Second)
	checkSOA(t, s, serial)
	startHost(t, usa)
	waitFor(t, s, "host back again", addrsOf("usa", "eur", "jpn"), 30*time.Second)
	checkNoToken(t, s)
}

// startLossServer starts a coredns-fed for the lab's federation with one
// more option, logging to coredns-fed.NAME.log in dir.
func startLossServer(t *testing.T, dir, name, option string) *framework.CoreDNS {
	t.Helper()
	return framework.FedServer{
		Zone: domain, Federation: federation, Kubeconfig: shared.Kubeconfig, Context: "usa",
		Options: []string{option},
	}.StartTest(t, dir, name)
}

// waitFor waits until s answers the sample app's global name with want,
// over UDP and TCP.
func waitFor(t *testing.T, s *framework.CoreDNS, what string, want []string, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	var last string
	err := waitUntil(context.Background(), timeout, func() bool {
		for _, proto := range []string{"udp", "tcp"} {
			r, err := ask(s.Addr, proto, name(""), dns.TypeA)
			if err != nil {
				last = err.Error()
				return false
			}
			if got := framework.Addresses(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
				last = fmt.Sprintf("%s %s %v", proto, dns.RcodeToString[r.Rcode], got)
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatalf("%s: no answer %v within %s; last: %s", what, want, timeout, last)
	}
	t.Logf("%s: answer %v after %s", what, want, time.Since(start).Round(time.Millisecond))
}

// steady checks that every answer over d is want.
func steady(t *testing.T, s *framework.CoreDNS, want []string, d time.Duration) {
	t.Helper()
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
		proto := []string{"udp", "tcp"}[n%2]
		r, err := ask(s.Addr, proto, name(""), dns.TypeA)
		if err != nil {
			t.Fatalf("query %d over %s: %v", n, proto, err)
		}
		if got := framework.Addresses(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
			t.Fatalf("query %d over %s: %s %v, want %v", n, proto, dns.RcodeToString[r.Rcode], got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSOA checks that the zone's SOA serial is the Federation's creation
// time.
func checkSOA(t *testing.T, s *framework.CoreDNS, serial uint32) {
	t.Helper()
	r, err := ask(s.Addr, "udp", domain, dns.TypeSOA)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 1 {
		t.Fatalf("SOA: %v", r)
	}
	if soa, ok := r.Answer[0].(*dns.SOA); !ok || soa.Serial != serial {
		t.Errorf("SOA %v, want serial %d, the Federation's creation time", r.Answer[0], serial)
	}
}

// federationSerial is the creation time of the lab's Federation.
func federationSerial(t *testing.T) uint32 {
	t.Helper()
	st, err := store.New(shared.Cluster("usa").RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, err := st.Federations.Get(context.Background(), federation, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return f.Serial()
}

// waitForSnapshot waits until the snapshot names exactly the clusters
// given, each with what it serves.
func waitForSnapshot(t *testing.T, path string, clusters ...string) {
	t.Helper()
	clusters = slices.Sorted(slices.Values(clusters))
	var last string
	err := waitUntil(context.Background(), 20*time.Second, func() bool {
		data, err := os.ReadFile(path)
		if err != nil {
			last = err.Error()
			return false
		}
		var snap struct {
			Clusters []struct {
				Name     string            `json:"name"`
				Services []json.RawMessage `json:"services"`
			} `json:"clusters"`
		}
		if err := json.Unmarshal(data, &snap); err != nil {
			last = err.Error()
			return false
		}
		var names []string
		for _, c := range snap.Clusters {
			if len(c.Services) > 0 {
				names = append(names, c.Name)
			}
		}
		slices.Sort(names)
		last = fmt.Sprint(names)
		return slices.Equal(names, clusters)
	})
	if err != nil {
		t.Fatalf("the snapshot does not name %v with their services: %s", clusters, last)
	}
}

// checkNoToken checks that the server logged none of the readers' tokens.
func checkNoToken(t *testing.T, s *framework.CoreDNS) {
	t.Helper()
	secrets, err := shared.Cluster("usa").Client().CoreV1().Secrets(v1alpha1.DNSNamespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	log := readLog(t, s)
	n := 0
	for _, secret := range secrets.Items {
		cfg, err := clientcmd.Load(secret.Data[v1alpha1.SecretKeyKubeconfig])
		if err != nil {
			continue
		}
		for _, user := range cfg.AuthInfos {
			if user.Token == "" {
				continue
			}
			n++
			if strings.Contains(log, user.Token) {
				t.Errorf("the server logged the token of %s", secret.Name)
			}
		}
	}
	if n == 0 {
		t.Error("no reader token found to look for")
	}
}

// join joins a member again once what its unjoin deleted is gone.
func join(t *testing.T, member string) {
	t.Helper()
	client := shared.Cluster(member).Client()
	if err := waitUntil(context.Background(), 60*time.Second, func() bool {
		_, err := client.CoreV1().Namespaces().Get(context.Background(), v1alpha1.Namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}); err != nil {
		t.Fatalf("namespace %s of %s is still there after its unjoin: %v", v1alpha1.Namespace, member, err)
	}
	kubectl.Succeed(t, "fed", "join", member, "--context", "usa", "--cluster-context", member)
}

// startHost starts a cluster's API server again and waits for it.
func startHost(t *testing.T, c *lab.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
}

// ask queries addr over proto with EDNS0.
func ask(addr, proto, qname string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(1232, false)
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func readLog(t *testing.T, s *framework.CoreDNS) string {
	t.Helper()
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
