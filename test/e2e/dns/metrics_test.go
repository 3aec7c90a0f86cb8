//go:build e2e

package dns_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kfed-dev/kfed/deploy/grafana"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// scrapeLabels are added by Prometheus to what it scrapes: the dashboard
// selects on them, the server does not export them.
var scrapeLabels = []string{"instance", "job"}

// TestMetricsDashboard holds deploy/grafana's dashboard to what a
// coredns-fed with conform, fed and dnssec exports: after queries that
// make every counter the dashboard draws (answers, NXDOMAIN, a refused
// zone transfer, a query conform refuses, signed answers made and cached,
// a member's probes failing), each metric and label its PromQL names must
// be on the server's /metrics, and each value it matches exactly.
func TestMetricsDashboard(t *testing.T) {
	s, metricsAddr := startMetricsServer(t)
	all := addrsOf("usa", "eur", "jpn")
	waitAnswers(t, s.Addr, all, 60*time.Second)

	for _, proto := range []string{"udp", "tcp"} {
		askDO(t, s.Addr, proto, name(""), dns.TypeA, dns.RcodeSuccess)
	}
	// The same signed answer again: its signatures come from the cache.
	askDO(t, s.Addr, "udp", name(""), dns.TypeA, dns.RcodeSuccess)
	askDO(t, s.Addr, "udp", "nowhere."+domain, dns.TypeA, dns.RcodeNameError)

	axfr := new(dns.Msg)
	axfr.SetAxfr(domain)
	if r, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(axfr, s.Addr); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR: %v %v, want REFUSED", r, err)
	}
	// Two OPT records (RFC 6891, section 6.1.1): conform answers FORMERR.
	bad := new(dns.Msg)
	bad.SetQuestion(name(""), dns.TypeA)
	bad.SetEdns0(1232, false)
	bad.SetEdns0(1232, false)
	if r, _, err := (&dns.Client{Net: "udp", Timeout: 2 * time.Second}).Exchange(bad, s.Addr); err != nil || r.Rcode != dns.RcodeFormatError {
		t.Errorf("two OPT records: %v %v, want FORMERR", r, err)
	}

	// jpn's load balancer down and back: its probes fail, and its healthy
	// entry points change.
	jpn := lbAddr["jpn"]
	if err := shared.SetLoadBalancerDown(jpn, true); err != nil {
		t.Fatal(err)
	}
	defer shared.SetLoadBalancerDown(jpn, false)
	waitAnswers(t, s.Addr, addrsOf("usa", "eur"), 60*time.Second)
	if err := shared.SetLoadBalancerDown(jpn, false); err != nil {
		t.Fatal(err)
	}
	waitAnswers(t, s.Addr, all, 60*time.Second)

	families := scrape(t, metricsAddr)
	queries, err := grafana.Queries(grafana.JSON)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		for _, ref := range grafana.References(q.Expr) {
			if problem := lacks(families, ref); problem != "" {
				t.Errorf("panel %q: %s", q.Panel, problem)
			}
		}
	}
}

// startMetricsServer starts a coredns-fed for the lab's federation with
// conform in front, signing with a key set of its own, and with its
// metrics on a loopback port of their own, which it returns.
func startMetricsServer(t *testing.T) (*framework.CoreDNS, string) {
	t.Helper()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keyset.json")
	framework.WriteKeySet(t, keys)
	metricsPort, err := framework.FreeDNSPort()
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", metricsPort)
	s := framework.FedServer{
		Zone: domain, Federation: federation, Kubeconfig: shared.Kubeconfig, Context: "usa",
		Options: []string{"dnssec file " + keys},
		Before:  []string{"conform"},
		After:   []string{"prometheus " + metricsAddr},
	}.StartTest(t, dir, "metrics")
	return s, metricsAddr
}

// waitAnswers waits until addr answers the sample app's global name with
// want.
func waitAnswers(t *testing.T, addr string, want []string, timeout time.Duration) {
	t.Helper()
	var last []string
	err := framework.WaitUntil(t.Context(), timeout, func() bool {
		r, err := ask(addr, "udp", name(""), dns.TypeA)
		if err != nil {
			return false
		}
		last = framework.Addresses(r)
		return slices.Equal(last, want)
	})
	if err != nil {
		t.Fatalf("answers %v, want %v: %v", last, want, err)
	}
}

// askDO asks with the DO bit, so that fed signs its answer.
func askDO(t *testing.T, addr, proto, qname string, qtype uint16, rcode int) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Net: proto, Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[qtype], qname, proto, err)
	}
	if r.Rcode != rcode {
		t.Errorf("%s %s over %s: %s, want %s", dns.TypeToString[qtype], qname, proto, dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode])
	}
}

// scrape reads addr's /metrics in Prometheus's text format.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics: %v", err)
	}
	return families
}

// lacks says what of ref the server's metrics do not have, or "".
func lacks(families map[string]*dto.MetricFamily, ref grafana.Reference) string {
	f, bucket := families[ref.Metric], false
	if f == nil {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base, ok := strings.CutSuffix(ref.Metric, suffix)
			if g := families[base]; ok && g != nil && g.GetType() == dto.MetricType_HISTOGRAM {
				f, bucket = g, suffix == "_bucket"
			}
		}
	}
	if f == nil || len(f.GetMetric()) == 0 {
		return fmt.Sprintf("no metric %s", ref.Metric)
	}
	have := map[string]map[string]bool{}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if have[l.GetName()] == nil {
				have[l.GetName()] = map[string]bool{}
			}
			have[l.GetName()][l.GetValue()] = true
		}
	}
	var missing []string
	for _, l := range ref.Labels {
		switch {
		case slices.Contains(scrapeLabels, l):
		case l == "le":
			if !bucket {
				missing = append(missing, "le (not a histogram's buckets)")
			}
		case have[l] == nil:
			missing = append(missing, "label "+l)
		}
	}
	for l, v := range ref.Values {
		if have[l] != nil && !have[l][v] {
			missing = append(missing, fmt.Sprintf("%s=%q", l, v))
		}
	}
	if len(missing) == 0 {
		return ""
	}
	slices.Sort(missing)
	return fmt.Sprintf("%s has no %s", ref.Metric, strings.Join(missing, ", "))
}

// syncAge returns how long ago the server at metricsAddr last synced with
// a member (cluster), or with the host (cluster ""), by its last sync
// gauges; the test fails if it has none.
func syncAge(t *testing.T, metricsAddr, cluster string) time.Duration {
	t.Helper()
	name, want := "coredns_fed_member_last_sync_timestamp_seconds", cluster
	if cluster == "" {
		name = "coredns_fed_host_last_sync_timestamp_seconds"
	}
	for _, m := range scrape(t, metricsAddr)[name].GetMetric() {
		found := cluster == ""
		for _, l := range m.GetLabel() {
			found = found || l.GetName() == "cluster" && l.GetValue() == want
		}
		if found {
			at := time.UnixMilli(int64(m.GetGauge().GetValue() * 1000))
			return time.Since(at)
		}
	}
	t.Fatalf("/metrics has no %s for %q", name, cluster)
	return 0
}

// waitSynced waits until the shared server's last sync with cluster (""
// for the host) is under 2s old again, after its API server came back.
func waitSynced(t *testing.T, cluster string) {
	t.Helper()
	var age time.Duration
	if err := framework.WaitUntil(t.Context(), time.Minute, func() bool {
		age = syncAge(t, server.metricsAddr, cluster)
		return age < 2*time.Second
	}); err != nil {
		t.Errorf("the API server of %q back: the last sync with it still %s ago: %v", cluster, age, err)
	}
}
