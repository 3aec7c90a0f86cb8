package dnsserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/explain"
)

func TestParseExplain(t *testing.T) {
	for _, tc := range []struct{ input, want string }{
		{"explain :8055", ":8055"},
		{"explain 127.0.0.1:8055", "127.0.0.1:8055"},
		{"explain [::1]:8055", "[::1]:8055"},
		// As {$POD_IP}:8055 gives it for an IPv6 pod.
		{"explain fd00::12:8055", "[fd00::12]:8055"},
	} {
		c := caddy.NewTestController("dns", "fed magicring {\n\t"+tc.input+"\n\tns ns1.example.net\n}")
		c.ServerBlockKeys = []string{testZone}
		f, err := parse(c)
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		if f.Explain != tc.want {
			t.Errorf("%q: address %q, want %q", tc.input, f.Explain, tc.want)
		}
	}

	c := caddy.NewTestController("dns", "fed magicring {\n\tns ns1.example.net\n}")
	c.ServerBlockKeys = []string{testZone}
	if f, err := parse(c); err != nil || f.Explain != "" {
		t.Errorf("without the option: explain %q, error %v; want it off", f.Explain, err)
	}

	for _, tc := range []struct{ input, want string }{
		{"explain", "explain takes one argument, got 0"},
		{"explain :8055 :8056", "explain takes one argument, got 2"},
		{"explain 8055", `explain "8055" is not an address`},
		{"explain localhost:8055", `explain "localhost:8055": the host must be an IP address`},
		{"explain 127.0.0.1:http", `explain "127.0.0.1:http": the port must be a number`},
		{"explain 127.0.0.1:0", `explain "127.0.0.1:0": the port must be a number`},
	} {
		c := caddy.NewTestController("dns", "fed magicring {\n\t"+tc.input+"\n\tns ns1.example.net\n}")
		c.ServerBlockKeys = []string{testZone}
		_, err := parse(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.input, err, tc.want)
		}
	}
}

// getExplain asks l for the query in params and decodes the report.
func getExplain(t *testing.T, l *explainListener, params url.Values) (int, *explain.Report, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, explain.Path+"?"+params.Encode(), nil)
	r.RemoteAddr = "127.0.0.9:53000"
	w := httptest.NewRecorder()
	l.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return w.Code, nil, w.Body.String()
	}
	var rep explain.Report
	if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
		t.Fatalf("decoding %s: %v", w.Body, err)
	}
	return w.Code, &rep, ""
}

// TestExplainGeo checks that explain reports the answer ServeDNS gives,
// with what it was decided from.
func TestExplainGeo(t *testing.T) {
	f := geoFed(t, PolicyGeo, Selection{})
	l := &explainListener{feds: []*Fed{f}}
	code, rep, body := getExplain(t, l, url.Values{"name": {"web" + svc + testZone}, "ecs": {"192.0.2.0/24"}})
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	got, reply := ask(t, f, "192.0.2.0/24")
	if !slices.Equal(got, []string{"jpn"}) {
		t.Fatalf("ServeDNS answered %v", got)
	}
	var want []string
	for _, rr := range reply.Answer {
		want = append(want, rr.String())
	}
	if !slices.Equal(rep.Answer.Records, want) || rep.Answer.TTL != f.TTL || rep.Answer.Rcode != "NOERROR" || rep.Answer.Outcome != outcomeSuccess {
		t.Errorf("answer %+v, want the records %v with TTL %d", rep.Answer, want, f.TTL)
	}
	if rep.Answer.ECSScope == nil || int(*rep.Answer.ECSScope) != replyScope(t, reply) {
		t.Errorf("ECS scope %v, want %d", rep.Answer.ECSScope, replyScope(t, reply))
	}
	c := rep.Client
	if c == nil || c.From != explain.FromECS || c.Address != "192.0.2.0" || c.Network != "192.0.2.0/24" || c.City != "Tokyo" || c.Country != "JP" || c.Result != lookupFound || c.Latitude == nil {
		t.Errorf("client %+v, want Tokyo from ECS", c)
	}
	if p := rep.Policy; p == nil || p.Requested != "geo" || p.Applied != "geo" || p.Source != explain.SourceCorefile || p.Nearest != 1 {
		t.Errorf("policy %+v, want geo from the Corefile", p)
	}
	if rep.Kind != "service" || rep.Level != "global" || rep.AnsweredLevel != "global" || rep.Serial != testSerial {
		t.Errorf("kind %s level %s answered at %s serial %d", rep.Kind, rep.Level, rep.AnsweredLevel, rep.Serial)
	}
	if len(rep.Clusters) != 3 {
		t.Fatalf("clusters %+v", rep.Clusters)
	}
	for _, cl := range rep.Clusters {
		if !cl.Candidate || !cl.Healthy || cl.DistanceKm == nil || len(cl.EntryPoints) != 1 || !cl.EntryPoints[0].Healthy {
			t.Errorf("cluster %+v, want a healthy candidate with its distance", cl)
		}
		if wantRank := map[string]int{"jpn": 1}[cl.Name]; cl.Rank != wantRank {
			t.Errorf("%s: rank %d, want %d", cl.Name, cl.Rank, wantRank)
		}
	}

	// From a source address, the Tokyo member down: the next nearest, and
	// no ECS scope.
	f = geoFed(t, PolicyGeo, Selection{}, "jpn")
	l = &explainListener{feds: []*Fed{f}}
	_, rep, _ = getExplain(t, l, url.Values{"name": {"web" + svc + testZone}, "client": {"192.0.2.7"}})
	if rep.Client == nil || rep.Client.From != explain.FromSource || rep.Client.Address != "192.0.2.7" || rep.Answer.ECSScope != nil {
		t.Errorf("client %+v, ECS scope %v", rep.Client, rep.Answer.ECSScope)
	}
	if len(rep.Answer.Records) != 1 || !strings.HasSuffix(rep.Answer.Records[0], "127.0.2.1") {
		t.Errorf("records %v, want eur's", rep.Answer.Records)
	}
	for _, cl := range rep.Clusters {
		if cl.Name == "jpn" && (cl.Candidate || cl.Healthy || cl.Rank != 0) {
			t.Errorf("jpn, down: %+v", cl)
		}
	}
}

func TestExplainPolicySource(t *testing.T) {
	// The annotation of eur's Service (the first member by name) sets
	// weighted.
	f := geoFed(t, PolicyGeo, Selection{Policy: PolicyWeighted, Weights: map[string]int{"eur": 1}})
	l := &explainListener{feds: []*Fed{f}}
	_, rep, _ := getExplain(t, l, url.Values{"name": {"WEB" + svc + testZone}})
	p := rep.Policy
	if p == nil || p.Requested != "weighted" || p.Applied != "weighted" || p.Source != explain.SourceAnnotation || p.SourceCluster != "eur" || p.Weights["eur"] != 1 {
		t.Fatalf("policy %+v, want weighted from eur's annotation", p)
	}
	if rep.Client != nil || rep.Query.Name != "WEB"+svc+testZone {
		t.Errorf("client %+v for a policy that does not locate, query %+v", rep.Client, rep.Query)
	}
	if len(rep.Answer.Records) != 1 || !strings.HasSuffix(rep.Answer.Records[0], "127.0.2.1") {
		t.Errorf("records %v, want eur's, the only one weighted", rep.Answer.Records)
	}

	// Geo for a client the database does not know: latency, with no round
	// trips, falls to all.
	f = geoFed(t, PolicyGeo, Selection{})
	l = &explainListener{feds: []*Fed{f}}
	_, rep, _ = getExplain(t, l, url.Values{"name": {"web" + svc + testZone}, "client": {"127.0.0.1"}})
	if p := rep.Policy; p == nil || p.Requested != "geo" || p.Applied != "all" || rep.Client.Result != lookupPrivate || len(rep.Answer.Records) != 3 {
		t.Errorf("policy %+v, client %+v, records %v", p, rep.Client, rep.Answer.Records)
	}
}

func TestExplainErrors(t *testing.T) {
	f := testFed()
	l := &explainListener{feds: []*Fed{f}}
	for _, tc := range []struct {
		params url.Values
		code   int
		want   string
	}{
		{url.Values{}, http.StatusBadRequest, "name must be a domain name"},
		{url.Values{"name": {"web" + svc + testZone}, "type": {"BOGUS"}}, http.StatusBadRequest, "not a DNS record type"},
		{url.Values{"name": {"web" + svc + testZone}, "client": {"here"}}, http.StatusBadRequest, "not an IP address"},
		{url.Values{"name": {"web" + svc + testZone}, "ecs": {"192.0.2.0/99"}}, http.StatusBadRequest, "not a subnet"},
		{url.Values{"name": {"www.example.org"}}, http.StatusNotFound, errNotInZone.Error()},
	} {
		code, _, body := getExplain(t, l, tc.params)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%v: %d %s, want %d with %q", tc.params, code, body, tc.code, tc.want)
		}
	}

	f.SetIndex(nil)
	if code, _, body := getExplain(t, l, url.Values{"name": {"web" + svc + testZone}}); code != http.StatusServiceUnavailable {
		t.Errorf("before sync: %d %s", code, body)
	}

	w := httptest.NewRecorder()
	l.ServeHTTP(w, httptest.NewRequest(http.MethodPost, explain.Path, nil))
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
}

// TestExplainNames checks names that are not a Service's, and the SRV and
// the NXDOMAIN answers, against ServeDNS's.
func TestExplainNames(t *testing.T) {
	f := testFed()
	l := &explainListener{feds: []*Fed{f}}
	for _, tc := range []struct {
		name, qtype, kind, rcode, outcome string
	}{
		{testZone, "SOA", "apex", "NOERROR", outcomeSuccess},
		{"ns1." + testZone, "A", "nameserver", "NOERROR", outcomeSuccess},
		{"_http._tcp.web" + svc + testZone, "SRV", "srv", "NOERROR", outcomeSuccess},
		{"web" + svc + "eu-west-1." + testZone, "A", "service", "NOERROR", outcomeSuccess},
		{"regional" + svc + "eu-west-1." + testZone, "A", "service", "NOERROR", outcomeFallback},
		{"down" + svc + testZone, "A", "service", "NOERROR", outcomeFailOpen},
		{"nope" + svc + testZone, "A", "service", "NXDOMAIN", outcomeNXDomain},
		{"usa.web" + svc + testZone, "A", "cluster", "NOERROR", outcomeSuccess},
	} {
		_, rep, body := getExplain(t, l, url.Values{"name": {tc.name}, "type": {tc.qtype}})
		if rep == nil {
			t.Errorf("%s %s: %s", tc.name, tc.qtype, body)
			continue
		}
		if rep.Kind != tc.kind || rep.Answer.Rcode != tc.rcode || rep.Answer.Outcome != tc.outcome {
			t.Errorf("%s %s: kind %s, answer %+v; want %s, %s %s", tc.name, tc.qtype, rep.Kind, rep.Answer, tc.kind, tc.rcode, tc.outcome)
		}
		m := new(dns.Msg)
		m.SetQuestion(tc.name, dns.StringToType[tc.qtype])
		reply := serve(t, f, m)
		if n := len(reply.Answer) + len(reply.Extra); n != len(rep.Answer.Records) && tc.kind != "service" {
			t.Errorf("%s %s: %d records, ServeDNS gave %d", tc.name, tc.qtype, len(rep.Answer.Records), n)
		}
	}
	_, rep, _ := getExplain(t, l, url.Values{"name": {"regional" + svc + "eu-west-1." + testZone}})
	if rep.Level != "region" || rep.AnsweredLevel != "global" {
		t.Errorf("fallback: level %s answered at %s, want region answered at global", rep.Level, rep.AnsweredLevel)
	}
}

// TestExplainListener checks that a reload keeps the listener: a second
// Fed attaches to it and answers, and it closes with the last.
func TestExplainListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	old, next := testFed(), geoFed(t, PolicyGeo, Selection{})
	old.Explain, next.Explain = addr, addr
	get := func() (*explain.Report, error) {
		resp, err := http.Get(fmt.Sprintf("http://%s%s?name=web%s%s&ecs=192.0.2.0/24", addr, explain.Path, svc, testZone))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var rep explain.Report
		return &rep, json.NewDecoder(resp.Body).Decode(&rep)
	}

	if err := startExplain(old); err != nil {
		t.Fatal(err)
	}
	if rep, err := get(); err != nil || rep.Policy == nil || rep.Policy.Requested != "all" {
		t.Fatalf("old: %+v, %v", rep, err)
	}
	// A reload that fails: the new instance's Fed, attached (as
	// attachController records it) and started, gets no OnShutdown;
	// restartFailed detaches it, and the old one answers again.
	failed := geoFed(t, PolicyGeo, Selection{})
	failed.Explain = addr
	if err := restartBegins(); err != nil {
		t.Fatal(err)
	}
	controllers.Lock()
	controllers.attached = append(controllers.attached, failed)
	controllers.Unlock()
	if err := startExplain(failed); err != nil {
		t.Fatal(err)
	}
	if err := restartFailed(); err != nil {
		t.Fatal(err)
	}
	if rep, err := get(); err != nil || rep.Policy == nil || rep.Policy.Requested != "all" {
		t.Fatalf("after the failed reload: %+v, %v", rep, err)
	}
	// The reload: the new instance starts, then the old one stops.
	if err := restartBegins(); err != nil {
		t.Fatal(err)
	}
	if err := startExplain(next); err != nil {
		t.Fatal(err)
	}
	if err := stopExplain(old); err != nil {
		t.Fatal(err)
	}
	if rep, err := get(); err != nil || rep.Policy == nil || rep.Policy.Requested != "geo" {
		t.Fatalf("after the reload: %+v, %v", rep, err)
	}
	if err := stopExplain(next); err != nil {
		t.Fatal(err)
	}
	if _, err := get(); err == nil {
		t.Error("the listener answers after the last Fed stopped")
	}
}

// serve answers m through ServeDNS.
func serve(t *testing.T, f *Fed, m *dns.Msg) *dns.Msg {
	t.Helper()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := f.ServeDNS(context.Background(), rec, m); err != nil {
		t.Fatal(err)
	}
	return rec.Msg
}
