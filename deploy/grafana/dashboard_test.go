package grafana

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestDashboard checks that the dashboard parses, that every panel has a
// title and a query, and that every query names a metric.
func TestDashboard(t *testing.T) {
	queries, err := Queries(JSON)
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) == 0 {
		t.Fatal("no queries")
	}
	for _, q := range queries {
		if len(References(q.Expr)) == 0 {
			t.Errorf("%s: %q names no coredns_ metric", q.Panel, q.Expr)
		}
	}
	var d struct {
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(JSON, &d); err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	if want := []string{"datasource", "instance", "server"}; !reflect.DeepEqual(vars, want) {
		t.Errorf("variables %v, want %v", vars, want)
	}
	// Every panel's data source is the variable, so that the dashboard
	// imports into any Grafana.
	if strings.Contains(string(JSON), `"uid": "prometheus"`) || d.UID == "" {
		t.Error("a panel names a data source of its own, or the dashboard has no uid")
	}
}

func TestReferences(t *testing.T) {
	got := References(`histogram_quantile(0.99, sum by (le, cluster) (rate(coredns_fed_probe_duration_seconds_bucket{instance=~"$instance", server=~"$server"}[$__rate_interval]))) / sum(rate(coredns_fed_answers_total{outcome="refused"}[5m]))`)
	want := []Reference{
		{Metric: "coredns_fed_probe_duration_seconds_bucket", Labels: []string{"cluster", "instance", "le", "server"}, Values: map[string]string{}},
		{Metric: "coredns_fed_answers_total", Labels: []string{"cluster", "le", "outcome"}, Values: map[string]string{"outcome": "refused"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	got = References(`label_values(coredns_dns_requests_total{instance=~"$instance"}, server)`)
	want = []Reference{{Metric: "coredns_dns_requests_total", Labels: []string{"instance", "server"}, Values: map[string]string{}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}
