// Package placement decides where a federated object goes and in what shape:
// which members receive it, how its replicas split over them, and which
// per-cluster patches change it on the way. It reads the kfed.dev
// annotations of the object as the user wrote it, and is pure: no clients,
// no clocks, so every rule is unit-tested here.
package placement

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Annotations a user puts on a federated object.
const (
	// AnnotationClusters lists the members that get the object, comma
	// separated: "usa,eur".
	AnnotationClusters = "kfed.dev/clusters"
	// AnnotationClusterSelector is a label selector, in kubectl's syntax,
	// over each member's labels and its region and zone (as
	// topology.kubernetes.io/region and /zone) and name (as kfed.dev/cluster):
	// "env=prod,topology.kubernetes.io/region in (us-east-1,eu-west-1)".
	AnnotationClusterSelector = "kfed.dev/cluster-selector"
	// AnnotationReplicaWeights gives members a relative share of the
	// replicas: "usa=2,eur=1". Members not listed weigh 1.
	AnnotationReplicaWeights = "kfed.dev/replica-weights"
	// AnnotationReplicaMin and AnnotationReplicaMax bound a member's replicas:
	// "usa=2,jpn=1".
	AnnotationReplicaMin = "kfed.dev/replica-min"
	AnnotationReplicaMax = "kfed.dev/replica-max"
	// AnnotationOverrides holds per-cluster patches; see Override.
	AnnotationOverrides = "kfed.dev/overrides"
)

// Keys are the annotations placement reads. They describe the federation's
// view of an object and are removed from the copies that members receive.
var Keys = []string{
	AnnotationClusters, AnnotationClusterSelector,
	AnnotationReplicaWeights, AnnotationReplicaMin, AnnotationReplicaMax,
	AnnotationOverrides,
}

// Labels under which a member's name, region and zone can be selected.
const (
	LabelCluster = "kfed.dev/cluster"
	LabelRegion  = "topology.kubernetes.io/region"
	LabelZone    = "topology.kubernetes.io/zone"
)

// Member is what placement needs to know of a member cluster.
type Member struct {
	Name   string
	Region string
	Zone   string
	// Labels are the Cluster object's labels.
	Labels map[string]string
}

// SelectableLabels returns the labels a selector matches against: the
// member's own, plus its name, region and zone under well-known keys.
func (m Member) SelectableLabels() labels.Set {
	set := labels.Set{}
	for k, v := range m.Labels {
		set[k] = v
	}
	set[LabelCluster] = m.Name
	if m.Region != "" {
		set[LabelRegion] = m.Region
	}
	if m.Zone != "" {
		set[LabelZone] = m.Zone
	}
	return set
}

// Policy is an object's placement, parsed from its annotations.
type Policy struct {
	// Clusters, when not nil, limits placement to the named members.
	Clusters []string
	// Selector limits placement to members whose labels match.
	Selector labels.Selector
	// Weights, Min and Max shape the replica split, per member name.
	Weights  map[string]int32
	Min, Max map[string]int32
	// Overrides patch the object for some members.
	Overrides []Override
}

// Parse reads the placement annotations. Errors name the annotation and
// say what a valid value looks like.
func Parse(annotations map[string]string) (*Policy, error) {
	p := &Policy{Selector: labels.Everything()}
	if v, ok := annotations[AnnotationClusters]; ok {
		names, err := parseNames(v)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w; write member names separated by commas, e.g. \"usa,eur\"", AnnotationClusters, err)
		}
		p.Clusters = names
	}
	if v, ok := annotations[AnnotationClusterSelector]; ok {
		sel, err := labels.Parse(v)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %v; write a label selector as for kubectl -l, e.g. \"topology.kubernetes.io/region=eu-west-1\"", AnnotationClusterSelector, err)
		}
		p.Selector = sel
	}
	var err error
	if p.Weights, err = parseCounts(annotations, AnnotationReplicaWeights); err != nil {
		return nil, err
	}
	if p.Min, err = parseCounts(annotations, AnnotationReplicaMin); err != nil {
		return nil, err
	}
	if p.Max, err = parseCounts(annotations, AnnotationReplicaMax); err != nil {
		return nil, err
	}
	for name, min := range p.Min {
		if max, ok := p.Max[name]; ok && max < min {
			return nil, fmt.Errorf("annotations %s and %s: %s has maximum %d below its minimum %d", AnnotationReplicaMin, AnnotationReplicaMax, name, max, min)
		}
	}
	if v, ok := annotations[AnnotationOverrides]; ok {
		if p.Overrides, err = ParseOverrides(v); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func parseNames(v string) ([]string, error) {
	names := []string{}
	seen := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		name := strings.TrimSpace(f)
		if name == "" {
			continue
		}
		if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
			return nil, fmt.Errorf("%q is not a cluster name: %s", name, strings.Join(errs, "; "))
		}
		if !seen[name] {
			names = append(names, name)
			seen[name] = true
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no cluster named")
	}
	return names, nil
}

// parseCounts reads "name=N,name=N".
func parseCounts(annotations map[string]string, key string) (map[string]int32, error) {
	v, ok := annotations[key]
	if !ok {
		return nil, nil
	}
	out := map[string]int32{}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, num, found := strings.Cut(f, "=")
		name, num = strings.TrimSpace(name), strings.TrimSpace(num)
		n, err := strconv.ParseInt(num, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			// Too big even for int64: still a number, so say so.
			err, n = nil, math.MaxInt64
		}
		if !found || err != nil || len(validation.IsDNS1123Label(name)) > 0 {
			return nil, fmt.Errorf("annotation %s: %q is not CLUSTER=COUNT with a count of 0 or more; write e.g. \"usa=2,eur=1\"", key, f)
		}
		if n < 0 || n > math.MaxInt32 {
			what := "is negative"
			if n > 0 {
				what = "is out of range"
			}
			return nil, fmt.Errorf("annotation %s: %q: the count %s %s; a count goes from 0 to %d", key, f, num, what, math.MaxInt32)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("annotation %s: cluster %s is given twice", key, name)
		}
		out[name] = int32(n)
	}
	return out, nil
}

// Select returns, sorted, the names of the members the policy places the
// object in, and the names in its cluster list that are not members at all,
// which a caller should report.
func (p *Policy) Select(members []Member) (selected, unknown []string) {
	byName := map[string]Member{}
	for _, m := range members {
		byName[m.Name] = m
	}
	candidates := members
	if p.Clusters != nil {
		candidates = nil
		for _, name := range p.Clusters {
			m, ok := byName[name]
			if !ok {
				unknown = append(unknown, name)
				continue
			}
			candidates = append(candidates, m)
		}
	}
	for _, m := range candidates {
		if p.Selector == nil || p.Selector.Matches(m.SelectableLabels()) {
			selected = append(selected, m.Name)
		}
	}
	sort.Strings(selected)
	sort.Strings(unknown)
	return selected, unknown
}

// Shares returns the replica-split inputs for the given clusters.
func (p *Policy) Shares(clusters []string) []Share {
	shares := make([]Share, 0, len(clusters))
	for _, c := range clusters {
		s := Share{Cluster: c, Weight: 1, Max: -1}
		if w, ok := p.Weights[c]; ok {
			s.Weight = w
		}
		if v, ok := p.Min[c]; ok {
			s.Min = v
		}
		if v, ok := p.Max[c]; ok {
			s.Max = v
		}
		shares = append(shares, s)
	}
	return shares
}

// NoMember explains why the policy selects none of members: what the
// annotations ask for, and the members there are, each with its value of
// every label the selector reads, so that a typo or a missing label shows.
func (p *Policy) NoMember(members []Member) error {
	names := make([]string, 0, len(members))
	for _, m := range members {
		names = append(names, m.Name)
	}
	sort.Strings(names)
	selects := p.Selector != nil && !p.Selector.Empty()
	var asked string
	switch {
	case p.Clusters != nil && !selects:
		asked = fmt.Sprintf("%s names %s, and none of them is a member", AnnotationClusters, strings.Join(p.Clusters, ", "))
	case p.Clusters == nil && selects:
		asked = fmt.Sprintf("%s %q matches no member", AnnotationClusterSelector, p.Selector.String())
	case p.Clusters != nil:
		asked = fmt.Sprintf("%s %s and %s %q together select no member", AnnotationClusters, strings.Join(p.Clusters, ","), AnnotationClusterSelector, p.Selector.String())
	default:
		asked = "its placement selects no member"
	}
	if !selects {
		return fmt.Errorf("%s; the members are %s", asked, strings.Join(names, ", "))
	}
	reqs, _ := p.Selector.Requirements()
	var keys []string
	for _, r := range reqs {
		keys = append(keys, r.Key())
	}
	sorted := append([]Member(nil), members...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	described := make([]string, 0, len(sorted))
	for _, m := range sorted {
		set := m.SelectableLabels()
		var have []string
		for _, k := range keys {
			if v, ok := set[k]; ok {
				have = append(have, k+"="+v)
			} else {
				have = append(have, "no "+k)
			}
		}
		described = append(described, fmt.Sprintf("%s (%s)", m.Name, strings.Join(have, ", ")))
	}
	return fmt.Errorf("%s; the members are %s", asked, strings.Join(described, ", "))
}
