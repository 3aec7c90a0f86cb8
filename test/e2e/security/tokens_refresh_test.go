//go:build e2e

package security

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// The zone and Service of the refresh test: a sample app in eur only, so
// that every answer is eur's address, read with the DNS reader's token.
const (
	refreshZone = "refresh.example.com."
	refreshNS   = "tokrefresh"
	refreshApp  = "web"
)

// TestTokensRefreshByCoreDNS runs coredns-fed against the federation and
// gives eur's DNS reader a genuine token near its expiry (issued as if 50
// minutes ago for an hour, signed with eur's own service-account key,
// bound to an anchor). With no kubectl fed command run, coredns-fed
// replaces it in the host's Secret by itself with a token of the same
// lifetime bound to the same anchor, which works; the answers for eur's
// Service, asked every 100 ms over UDP, never fail meanwhile; the refresh
// metric counts it and the expiry gauge follows; no log holds a token.
func TestTokensRefreshByCoreDNS(t *testing.T) {
	ctx := t.Context()
	eur := testLab.Cluster("eur").Client()
	t.Cleanup(func() {
		_, _ = kubectl.Run(context.Background(), "delete", "namespace", refreshNS, "--context", "eur", "--wait=false", "--ignore-not-found")
	})
	addr, err := framework.DeployApp(ctx, eur, refreshNS, refreshApp, 1, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{addr.String()}

	srv := refreshStartCoreDNS(t)
	fqdn := refreshApp + "." + refreshNS + ".magicring.svc." + refreshZone
	framework.Eventually(t, time.Minute, 200*time.Millisecond, "coredns-fed answers "+fqdn, func(context.Context) error {
		return refreshAsk(srv.dns, fqdn, want)
	})

	asker := refreshStartAsking(srv.dns, fqdn, want)
	t.Cleanup(func() { asker.stop() })
	secret, joined, _ := tokCredential(t, "eur", v1alpha1.IdentityDNSReader)
	// The token join issued is no longer the host's to revoke.
	defer tokDeleteAnchor(t, secret.Annotations[store.AnnotationTokenSecret])
	defer func() {
		// Put back a token of the usual lifetime; the rotation revokes
		// the aged token and the refreshed one, which share an anchor.
		kubectl.Succeed(t, "fed", "rotate", "eur", "--identity", "dns-reader", "--token-lifetime", membership.DefaultTokenLifetime.String(), "--context", hostCtx)
	}()
	aged, anchor := tokAgeAs(t, v1alpha1.IdentityDNSReader, membership.DNSReaderServiceAccount, secret, joined)
	agedInfo, err := store.ParseToken(aged)
	if err != nil {
		t.Fatal(err)
	}

	var value string
	framework.Eventually(t, time.Minute, 200*time.Millisecond, "coredns-fed to refresh eur's aged DNS-reader token", func(context.Context) error {
		_, value, _ = tokCredential(t, "eur", v1alpha1.IdentityDNSReader)
		if value == aged {
			return fmt.Errorf("the host still holds the aged token")
		}
		return nil
	})
	after, _, got := tokCredential(t, "eur", v1alpha1.IdentityDNSReader)
	if value == joined {
		t.Fatalf("the host holds the token join issued again, not a new one")
	}
	switch {
	case got.Legacy() || got.BoundSecret != anchor || got.BoundSecretUID != agedInfo.BoundSecretUID:
		t.Errorf("the new token is not bound to the aged token's anchor %s (%s): %+v", anchor, agedInfo.BoundSecretUID, got)
	case got.Lifetime() != time.Hour:
		t.Errorf("the new token lasts %s, want the hour the aged one lasted", got.Lifetime())
	case !got.Expires.After(agedInfo.Expires):
		t.Errorf("the new token expires at %s, no later than the aged one (%s)", got.Expires, agedInfo.Expires)
	}
	if a, err := eur.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, anchor, metav1.GetOptions{}); err != nil || string(a.UID) != got.BoundSecretUID {
		t.Errorf("the new token's anchor %s in eur: %v, %v; want it with UID %s", anchor, a, err, got.BoundSecretUID)
	}
	for k, v := range map[string]string{
		store.AnnotationTokenSecret:    anchor,
		store.AnnotationTokenIssuedAt:  got.IssuedAt.Format(time.RFC3339),
		store.AnnotationTokenExpiresAt: got.Expires.Format(time.RFC3339),
	} {
		if after.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, after.Annotations[k], v)
		}
	}
	who, err := tokWhoami(ctx, t, "eur", value)
	if err != nil || who.Username != privReader {
		t.Errorf("the new token: %s, %v; want it to work as %s", who.Username, err, privReader)
	}
	if _, err := tokClient(t, "eur", value).DiscoveryV1().EndpointSlices(refreshNS).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("the new token does not list EndpointSlices: %v", err)
	}

	// coredns-fed watches with the new token, answering all along.
	framework.Eventually(t, time.Minute, 200*time.Millisecond, "coredns-fed to count the refresh and follow the new expiry", func(context.Context) error {
		body, err := refreshMetrics(srv.metrics)
		if err != nil {
			return err
		}
		for _, w := range []string{
			`coredns_fed_token_refreshes_total{cluster="eur",result="success",server="` + srv.label + `"} 1`,
			`coredns_fed_member_token_expiry_timestamp_seconds{cluster="eur",server="` + srv.label + `"} ` + refreshFloat(got.Expires.Unix()),
		} {
			if !strings.Contains(body, w) {
				return fmt.Errorf("the metrics lack %s", w)
			}
		}
		return nil
	})
	// A few more checks find nothing due, and queries go on meanwhile.
	time.Sleep(5 * time.Second)
	asked, failures := asker.stop()
	if len(failures) > 0 {
		t.Errorf("%d of %d queries for %s failed while the token was refreshed; the first: %v", len(failures), asked, fqdn, failures[:min(5, len(failures))])
	}
	if asked < 40 {
		t.Errorf("only %d queries were asked", asked)
	}
	t.Logf("%d queries over the refresh, all answered %v", asked, want)
	if _, v, _ := tokCredential(t, "eur", v1alpha1.IdentityDNSReader); v != value {
		t.Errorf("coredns-fed refreshed the fresh token again")
	}
	body, err := refreshMetrics(srv.metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"jpn", "usa"} {
		if strings.Contains(body, `coredns_fed_token_refreshes_total{cluster="`+m+`"`) {
			t.Errorf("coredns-fed refreshed %s's token, which is far from its expiry", m)
		}
	}
	if strings.Contains(body, `result="failure"`) || strings.Contains(body, `result="conflict"`) {
		t.Errorf("the metrics count a failed or raced refresh:\n%s", refreshLines(body, "coredns_fed_token_refreshes_total"))
	}
	log, _ := os.ReadFile(srv.log)
	if !strings.Contains(string(log), "Refreshed the DNS-reader token of cluster eur") {
		t.Errorf("coredns-fed does not log the refresh:\n%s", log)
	}
	for _, l := range strings.Split(string(log), "\n") {
		if strings.Contains(l, "token of cluster") || strings.Contains(l, "credential of cluster") {
			t.Logf("coredns-fed: %s", l)
		}
	}
	for what, tok := range map[string]string{"aged": aged, "new": value} {
		parts := strings.Split(tok, ".")
		if strings.Contains(string(log), parts[2]) {
			t.Errorf("coredns-fed's log holds the %s token", what)
		}
	}
}

// refreshServer is a running coredns-fed with its DNS and metrics
// addresses, its metrics' server label and its log.
type refreshServer struct {
	dns, metrics, label, log string
}

// refreshStartCoreDNS starts coredns-fed for the federation, reading the
// host as the lab's admin, with the tokens checked every 2 s.
func refreshStartCoreDNS(t *testing.T) refreshServer {
	t.Helper()
	metricsPort, err := framework.FreeDNSPort()
	if err != nil {
		t.Fatal(err)
	}
	metrics := "127.0.0.1:" + strconv.Itoa(metricsPort)
	dir := t.TempDir()
	server, err := framework.FedServer{
		Zone: refreshZone, Federation: "magicring", Kubeconfig: testLab.Kubeconfig, Context: hostCtx,
		Options: []string{"token_refresh_check 2s"},
		After:   []string{"prometheus " + metrics},
	}.Start(dir, "refresh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	return refreshServer{dns: server.Addr, metrics: metrics, label: "dns://" + server.Addr,
		log: filepath.Join(dir, "coredns-fed.refresh.log")}
}

// refreshAsk asks server for name's A records over UDP, and says how the
// answer differs from want.
func refreshAsk(server, name string, want []string) error {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return err
	}
	if got := framework.Addresses(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want) {
		return fmt.Errorf("%s %v, want %v", dns.RcodeToString[r.Rcode], got, want)
	}
	return nil
}

// refreshAsker asks for a name every 100 ms until stopped, and keeps the
// queries that failed.
type refreshAsker struct {
	stopCh   chan struct{}
	stopOnce sync.Once
	done     sync.WaitGroup
	asked    int
	failures []string
}

func refreshStartAsking(server, name string, want []string) *refreshAsker {
	a := &refreshAsker{stopCh: make(chan struct{})}
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-a.stopCh:
				return
			case <-tick.C:
			}
			a.asked++
			if err := refreshAsk(server, name, want); err != nil {
				a.failures = append(a.failures, time.Now().Format("15:04:05.000")+": "+err.Error())
			}
		}
	}()
	return a
}

// stop stops the asking and returns how many queries were asked and those
// that failed; it may be called again.
func (a *refreshAsker) stop() (int, []string) {
	a.stopOnce.Do(func() { close(a.stopCh) })
	a.done.Wait()
	return a.asked, a.failures
}

// refreshMetrics reads coredns-fed's metrics.
func refreshMetrics(addr string) (string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// refreshFloat is a whole number as the Prometheus text format writes a
// float: 1.7645e+09, or as many digits as it takes.
func refreshFloat(n int64) string {
	return strconv.FormatFloat(float64(n), 'g', -1, 64)
}

// refreshLines returns the lines of a metrics page about one metric.
func refreshLines(body, metric string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, metric) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
