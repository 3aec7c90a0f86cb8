// Package grafana holds coredns-fed's Grafana dashboard, and reads the
// PromQL of its panels so that tests can hold it to the metrics the server
// exports.
package grafana

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// JSON is the dashboard, as Grafana imports it.
//
//go:embed coredns-fed.json
var JSON []byte

// Query is one PromQL expression of the dashboard.
type Query struct {
	// Panel is the title of the panel the expression is drawn in, or
	// "variable NAME" for a template variable's query.
	Panel string
	Expr  string
}

type dashboard struct {
	Panels []struct {
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// Queries returns every expression of the dashboard: each panel's, and
// each query variable's label_values. A panel other than a row with no
// title or no expression is an error.
func Queries(data []byte) ([]Query, error) {
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	var out []Query
	for i, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Title == "" {
			return nil, fmt.Errorf("panel %d has no title", i)
		}
		if len(p.Targets) == 0 {
			return nil, fmt.Errorf("panel %q has no query", p.Title)
		}
		for _, t := range p.Targets {
			if strings.TrimSpace(t.Expr) == "" {
				return nil, fmt.Errorf("panel %q has a query with no expr", p.Title)
			}
			out = append(out, Query{Panel: p.Title, Expr: t.Expr})
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		out = append(out, Query{Panel: "variable " + v.Name, Expr: q.Query})
	}
	return out, nil
}

// Reference is what an expression asks of one metric.
type Reference struct {
	// Metric is the name as written, with any _bucket, _sum or _count.
	Metric string
	// Labels are those the expression matches on or groups by.
	Labels []string
	// Values are the label values matched exactly, by label.
	Values map[string]string
}

var (
	metricName = regexp.MustCompile(`\bcoredns_[a-z_]+\b`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	labelsOf   = regexp.MustCompile(`label_values\(\s*(coredns_[a-z_]+)(?:\{[^}]*\})?\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

// References returns the metrics expr names, each with the labels of its
// own matchers, and with every label the expression groups by: a grouping
// applies to each metric of the expression, which the dashboard's simple
// expressions hold to. Values that hold a dashboard variable are not
// taken as exact.
func References(expr string) []Reference {
	var by []string
	for _, m := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				by = append(by, l)
			}
		}
	}
	refs := map[string]*Reference{}
	var names []string
	locs := metricName.FindAllStringIndex(expr, -1)
	for _, loc := range locs {
		name := expr[loc[0]:loc[1]]
		r := refs[name]
		if r == nil {
			r = &Reference{Metric: name, Values: map[string]string{}}
			refs[name] = r
			names = append(names, name)
			r.Labels = append(r.Labels, by...)
		}
		rest := expr[loc[1]:]
		if !strings.HasPrefix(rest, "{") {
			continue
		}
		end := strings.Index(rest, "}")
		if end < 0 {
			continue
		}
		for _, m := range matcher.FindAllStringSubmatch(rest[:end], -1) {
			r.Labels = append(r.Labels, m[1])
			if m[2] == "=" && !strings.Contains(m[3], "$") {
				r.Values[m[1]] = m[3]
			}
		}
	}
	for _, m := range labelsOf.FindAllStringSubmatch(expr, -1) {
		refs[m[1]].Labels = append(refs[m[1]].Labels, m[2])
	}
	out := make([]Reference, 0, len(names))
	for _, n := range names {
		r := refs[n]
		slices.Sort(r.Labels)
		r.Labels = slices.Compact(r.Labels)
		out = append(out, *r)
	}
	return out
}
