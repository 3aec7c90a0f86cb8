package dnsserver

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/geo"
)

// Annotations on a member's Service that choose how members are picked.
const (
	// AnnotationDNSPolicy overrides the Corefile's policy for the Service:
	// geo, latency, weighted, failover or all.
	AnnotationDNSPolicy = v1alpha1.GroupName + "/dns-policy"
	// AnnotationDNSWeights gives the weighted policy's weights, such as
	// "usa=3,eur=1".
	AnnotationDNSWeights = v1alpha1.GroupName + "/dns-weights"
	// AnnotationDNSFailover gives the failover policy's order, such as
	// "jpn,usa,eur".
	AnnotationDNSFailover = v1alpha1.GroupName + "/dns-failover"
)

// Policy is how the members that answer for a Service are chosen.
type Policy uint8

// The policies. PolicyDefault, the zero value, means the Corefile's.
const (
	PolicyDefault Policy = iota
	// PolicyGeo answers with the members nearest to the client.
	PolicyGeo
	// PolicyLatency answers with the members of the lowest latency.
	PolicyLatency
	// PolicyWeighted answers with one member, picked at random by weight.
	PolicyWeighted
	// PolicyFailover answers with the first member of an ordered list.
	PolicyFailover
	// PolicyAll answers with every member, in rotating order.
	PolicyAll
)

var policyNames = [...]string{"default", "geo", "latency", "weighted", "failover", "all"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

// ParsePolicy returns the policy named s; the default policy is not a name.
func ParsePolicy(s string) (Policy, bool) {
	for i, n := range policyNames[1:] {
		if s == n {
			return Policy(i + 1), true
		}
	}
	return PolicyDefault, false
}

// Selection is a Service's choice of members, from its annotations.
type Selection struct {
	// Policy is the annotation's policy; PolicyDefault leaves the
	// Corefile's.
	Policy Policy
	// Weights are the weighted policy's, by member name; nil means equal
	// weights.
	Weights map[string]int
	// Failover is the failover policy's order of member names.
	Failover []string
}

// merge fills what s does not set from o.
func (s *Selection) merge(o *Selection) {
	if s.Policy == PolicyDefault {
		s.Policy = o.Policy
	}
	if s.Weights == nil {
		s.Weights = o.Weights
	}
	if s.Failover == nil {
		s.Failover = o.Failover
	}
}

// selectionOf reads a Service's selection annotations. Values it cannot
// read are left out, as if not given: the Service then follows the
// Corefile's policy, equal weights or the order of names.
func selectionOf(annotations map[string]string) Selection {
	var s Selection
	if v, ok := annotations[AnnotationDNSPolicy]; ok {
		s.Policy, _ = ParsePolicy(strings.ToLower(strings.TrimSpace(v)))
	}
	if v, ok := annotations[AnnotationDNSWeights]; ok {
		s.Weights = parseWeights(v)
	}
	if v, ok := annotations[AnnotationDNSFailover]; ok {
		for name := range strings.SplitSeq(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" && !slices.Contains(s.Failover, name) {
				s.Failover = append(s.Failover, name)
			}
		}
	}
	return s
}

// parseWeights reads "usa=3,eur=1"; entries it cannot read are skipped,
// and nil means nothing could be read.
func parseWeights(v string) map[string]int {
	var w map[string]int
	for entry := range strings.SplitSeq(v, ",") {
		name, num, ok := strings.Cut(entry, "=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(num))
		name = strings.ToLower(strings.TrimSpace(name))
		if err != nil || n < 0 || n > 1_000_000 || name == "" {
			continue
		}
		if w == nil {
			w = map[string]int{}
		}
		w[name] = n
	}
	return w
}

// PolicySelector is the selector of the policies. Its fields are set
// before it serves and not changed after.
type PolicySelector struct {
	// Default is the policy of Services that do not name one.
	Default Policy
	// Nearest is how many members the geo and latency policies answer
	// with.
	Nearest int
	// Locate finds the client; nil means every client's location is
	// unknown.
	Locate *Locator
	// Latency is the region-to-region latency table; may be nil.
	Latency *LatencyTable
	// RTT holds this server's probe round-trip times, by member name.
	RTT *RTTs

	next atomic.Uint64
}

// Select implements Selector.
func (s *PolicySelector) Select(ctx context.Context, state request.Request, svc *Service, cands []*ServiceCluster) []*ServiceCluster {
	return s.choose(ctx, state, svc, cands, nil)
}

// choose is Select, telling tr, when not nil, how it chose instead of
// counting the answer: explain (explain.go) asks through here.
func (s *PolicySelector) choose(ctx context.Context, state request.Request, svc *Service, cands []*ServiceCluster, tr *trace) []*ServiceCluster {
	p := svc.Selection.Policy
	if p == PolicyDefault {
		p = s.Default
	}
	requested := p
	var out []*ServiceCluster
	switch p {
	case PolicyGeo, PolicyLatency:
		out, p = s.located(ctx, state, p, cands, tr)
	case PolicyWeighted:
		out = s.weighted(svc.Selection.Weights, cands)
	case PolicyFailover:
		out = failover(svc.Selection.Failover, cands)
	}
	if out == nil {
		out, p = s.all(cands), PolicyAll
	}
	if tr != nil {
		tr.policy(requested, p)
		return out
	}
	first := "none"
	if len(out) > 0 {
		first = out[0].Name
	}
	policyAnswers.WithLabelValues(metrics.WithServer(ctx), p.String(), first).Inc()
	return out
}

// located applies the geo or latency policy, and returns the policy
// applied: a client of unknown location falls back from geo to latency,
// and latency with nothing to go by returns nil (all).
func (s *PolicySelector) located(ctx context.Context, state request.Request, p Policy, cands []*ServiceCluster, tr *trace) ([]*ServiceCluster, Policy) {
	var loc ClientLocation
	if s.Locate != nil {
		loc = s.Locate.locate(ctx, state, tr)
	}
	if q := queryFrom(ctx); q != nil {
		// The answer depends on the client's address from here on, up to
		// the network the database matched, whatever policy applies.
		q.scope = loc.Scope
		q.located = true
	}
	if tr != nil {
		tr.costs(loc, s.Latency, s.RTT.Load(), cands)
	}
	if p == PolicyGeo && loc.Known {
		return s.nearest(byDistance(loc, cands)), PolicyGeo
	}
	if byLatency(loc, s.Latency, s.RTT.Load(), cands) {
		return s.nearest(cands), PolicyLatency
	}
	return nil, PolicyAll
}

func (s *PolicySelector) nearest(cands []*ServiceCluster) []*ServiceCluster {
	if n := max(1, s.Nearest); len(cands) > n {
		return cands[:n]
	}
	return cands
}

// byDistance orders cands by great-circle distance from the client;
// members of unknown location go last, by name.
//
// Each distance is computed once, not at every comparison, and the sort is
// an insertion sort: candidates are members, a handful, and it is stable.
func byDistance(loc ClientLocation, cands []*ServiceCluster) []*ServiceCluster {
	var buf [16]float64
	d := buf[:0]
	for _, sc := range cands {
		d = append(d, distance(loc, sc.Cluster))
	}
	for i := 1; i < len(cands); i++ {
		for j := i; j > 0 && cmp.Less(d[j], d[j-1]); j-- {
			d[j], d[j-1] = d[j-1], d[j]
			cands[j], cands[j-1] = cands[j-1], cands[j]
		}
	}
	return cands
}

func distance(loc ClientLocation, c *Cluster) float64 {
	if !c.Location.Known {
		return math.Inf(1)
	}
	return geo.DistanceKm(loc.Latitude, loc.Longitude, c.Location.Latitude, c.Location.Longitude)
}

// weighted picks one candidate at random, by weight. Members without a
// weight have none when weights are given; nil weights are equal. It
// returns nil when no candidate has a weight.
func (s *PolicySelector) weighted(weights map[string]int, cands []*ServiceCluster) []*ServiceCluster {
	weight := func(sc *ServiceCluster) int {
		if weights == nil {
			return 1
		}
		return weights[sc.Name]
	}
	total := 0
	for _, sc := range cands {
		total += weight(sc)
	}
	if total == 0 {
		return nil
	}
	r := rand.IntN(total)
	for i, sc := range cands {
		if r -= weight(sc); r < 0 {
			return cands[i : i+1]
		}
	}
	return nil
}

// failover answers with the first candidate in order; members not in it
// come after those that are, by name.
func failover(order []string, cands []*ServiceCluster) []*ServiceCluster {
	best, bestRank := -1, math.MaxInt
	for i, sc := range cands {
		rank := slices.Index(order, sc.Name)
		if rank < 0 {
			rank = len(order)
		}
		if rank < bestRank {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return nil
	}
	return cands[best : best+1]
}

// all answers with every candidate, starting one further at each call.
func (s *PolicySelector) all(cands []*ServiceCluster) []*ServiceCluster {
	if len(cands) > 1 {
		k := int(s.next.Add(1) % uint64(len(cands)))
		slices.Reverse(cands[:k])
		slices.Reverse(cands[k:])
		slices.Reverse(cands)
	}
	return cands
}
