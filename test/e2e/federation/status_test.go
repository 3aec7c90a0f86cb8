//go:build e2e

package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// statusLatency is what the LATENCY column shows of a member that answered.
var statusLatency = regexp.MustCompile(`^[0-9.]+(µs|ms|s)$`)

// Issue 18, item 2: `kubectl fed status` shows every member with its
// latency and a coredns-fed server that agrees, and exits 0; drift in a
// member, a member whose API server is down, and a server that stopped
// each make it exit 1 and name the problem and the command that fixes it.
func TestStatus(t *testing.T) {
	ensureJoined(t, "usa", "eur", "jpn")
	members := []string{"eur", "jpn", "usa"}

	// One object placed in every member.
	name := "e2e-status"
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  color: blue\n", name)), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "apply", "-f", manifest, "--context", hostCtx)
	t.Cleanup(func() {
		if res, err := kubectl.Run(context.Background(), "fed", "delete", "-f", manifest, "--context", hostCtx); err != nil || res.ExitCode != 0 {
			t.Logf("deleting %s: %v\n%s", name, err, res)
		}
	})

	server := startStatusServer(t)

	t.Run("healthy", func(t *testing.T) {
		res := kubectl.Succeed(t, "fed", "status", "--context", hostCtx, "--server", server.Addr)
		rows := statusRows(res.Stdout)
		for _, m := range members {
			row := rows[m]
			if len(row) < 8 || row[1] != "Ready" || !statusLatency.MatchString(row[2]) {
				t.Errorf("member %s: row %q, want Ready with a latency", m, row)
				continue
			}
			if row[5] != "1" || row[6] != "0" || row[7] != "0" {
				t.Errorf("member %s: PLACED, PENDING, DRIFTED = %s %s %s, want 1 0 0", m, row[5], row[6], row[7])
			}
		}
		// A --server is no pod: its LAST SYNC is not read.
		if row := rows[server.Addr]; len(row) < 7 || row[1] != "-" || row[2] != "yes" || row[3] != "yes" || row[4] != "-" || row[6] != "agrees" {
			t.Errorf("server %s: row %q, want it answering, synced, without a last sync, and agreeing", server.Addr, row)
		}
		if !strings.Contains(res.Stdout, "Nothing needs action in "+fedName) {
			t.Errorf("status does not say that nothing needs action")
		}

		res = kubectl.Succeed(t, "fed", "status", "--context", hostCtx, "--server", server.Addr, "-o", "json")
		var st struct {
			Members []struct {
				Name    string  `json:"name"`
				Latency float64 `json:"latencyMilliseconds"`
			} `json:"members"`
			Servers []struct {
				Serial uint32 `json:"serial"`
			} `json:"servers"`
			Problems []any `json:"problems"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
			t.Fatalf("-o json: %v", err)
		}
		if len(st.Members) != len(members) || len(st.Problems) != 0 || len(st.Servers) != 1 {
			t.Errorf("-o json: %d members, %d servers, %d problems; want 3, 1, 0", len(st.Members), len(st.Servers), len(st.Problems))
		}
		for _, m := range st.Members {
			if m.Latency <= 0 {
				t.Errorf("-o json: member %s has no latency", m.Name)
			}
		}
		f, err := hostStore(t).Federations.Get(t.Context(), fedName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := uint32(f.CreationTimestamp.Unix()); len(st.Servers) == 1 && st.Servers[0].Serial != want {
			t.Errorf("-o json: serial %d, want the Federation's creation time %d", st.Servers[0].Serial, want)
		}
	})

	t.Run("drift", func(t *testing.T) {
		cms := testLab.Cluster("eur").Client().CoreV1().ConfigMaps("default")
		cm, err := cms.Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["color"] = "red"
		if _, err := cms.Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		res := kubectl.Fail(t, "fed", "status", "--context", hostCtx, "--server", server.Addr)
		if res.ExitCode != 1 {
			t.Errorf("exit %d, want 1", res.ExitCode)
		}
		if row := statusRows(res.Stdout)["eur"]; len(row) < 8 || row[7] != "1" {
			t.Errorf("member eur: row %q, want DRIFTED 1", row)
		}
		for _, want := range []string{
			"member eur: 1 object drifted (default/configmap/" + name + ")",
			"fix: kubectl fed diff to see it, then kubectl fed sync to revert it",
		} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("status does not say %q", want)
			}
		}
		if !strings.Contains(res.Stderr, "1 problem in federation "+fedName+" needs action") {
			t.Errorf("stderr does not count the problem:\n%s", res.Stderr)
		}
		kubectl.Succeed(t, "fed", "sync", "--context", hostCtx)
		kubectl.Succeed(t, "fed", "status", "--context", hostCtx, "--server", server.Addr)
	})

	// A hung member is waited for once: the session that found it silent
	// is not followed by a probe that waits for it again.
	t.Run("member hung", func(t *testing.T) {
		jpn := testLab.Cluster("jpn")
		if err := jpn.FreezeAPIServer(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := jpn.ThawAPIServer(context.Background()); err != nil {
				t.Error(err)
			}
		}()
		const timeout = 4 * time.Second
		res := kubectl.Fail(t, "fed", "status", "--context", hostCtx, "--server", server.Addr, "--drift=false", "--timeout", timeout.String())
		if row := statusRows(res.Stdout)["jpn"]; len(row) < 3 || row[1] != "NotReady" || row[2] != "(Timeout)" {
			t.Errorf("member jpn: row %q, want NotReady (Timeout)", row)
		}
		if res.Duration >= 2*timeout {
			t.Errorf("status took %s with jpn hung and --timeout %s: it waited for jpn more than once", res.Duration.Round(time.Millisecond), timeout)
		}
	})

	t.Run("member down", func(t *testing.T) {
		stopAPIServer(t, testLab.Cluster("jpn"))
		res := kubectl.Fail(t, "fed", "status", "--context", hostCtx, "--server", server.Addr, "--drift=false")
		if res.ExitCode != 1 {
			t.Errorf("exit %d, want 1", res.ExitCode)
		}
		if row := statusRows(res.Stdout)["jpn"]; len(row) < 3 || row[1] != "NotReady" || row[2] != "(Unreachable)" {
			t.Errorf("member jpn: row %q, want NotReady (Unreachable)", row)
		}
		if !strings.Contains(res.Stdout, "member jpn: its API server is not reachable") || !strings.Contains(res.Stdout, "then kubectl fed sync") {
			t.Errorf("status does not name jpn's problem and its fix")
		}
		for _, m := range []string{"eur", "usa"} {
			if strings.Contains(res.Stdout, "member "+m+":") {
				t.Errorf("status names a problem of the healthy member %s", m)
			}
		}
	})

	t.Run("server down", func(t *testing.T) {
		server.Stop()
		res := kubectl.Fail(t, "fed", "status", "--context", hostCtx, "--server", server.Addr, "--drift=false")
		if want := "server " + server.Addr + ": nothing answers DNS"; !strings.Contains(res.Stdout, want) {
			t.Errorf("status does not say %q", want)
		}
	})
}

// statusRows returns status's table rows by their first cell.
func statusRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	return rows
}

// startStatusServer runs coredns-fed on loopback for the lab's federation,
// reading the host as its admin, and waits until it answers the zone's SOA.
func startStatusServer(t *testing.T) *framework.CoreDNS {
	t.Helper()
	s, err := framework.FedServer{
		Zone: domain, Federation: fedName, Kubeconfig: testLab.Kubeconfig, Context: hostCtx,
	}.Start(t.TempDir(), "status")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	framework.Eventually(t, 60*time.Second, 250*time.Millisecond, "coredns-fed answering the SOA", func(ctx context.Context) error {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(domain), dns.TypeSOA)
		r, err := dns.Exchange(m, s.Addr)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess {
			return fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		return nil
	})
	return s
}
