package dnsserver

import (
	"context"
	"net/netip"
	"time"

	"github.com/coredns/coredns/request"
)

// trace is what explain learns of how one answer was decided, told by the
// answer's own code as it goes: answer, candidates, the policy selector and
// the locator each record what they did when given one. ServeDNS gives
// none, which costs a comparison at each of those places.
type trace struct {
	name Name
	// level is the level that answered: the name's, or a wider one.
	level Level
	// chose is set once a selector ran: eligible are the members it was
	// given and selected those it answered with, in order.
	chose              bool
	eligible, selected []string
	// policied is set when the policy selector chose, with the policy in
	// force and the one applied.
	policied           bool
	requested, applied Policy

	// The client, when the policy looked it up.
	lookedUp   bool
	addr       netip.Addr
	ecs        bool
	result     string
	network    netip.Prefix
	loc        ClientLocation
	fromRegion string
	distance   map[string]float64
	latency    map[string]latencyCost
}

// located records the locator's lookup.
func (tr *trace) located(addr netip.Addr, ecs bool, result string, network netip.Prefix, loc ClientLocation) {
	tr.lookedUp = true
	tr.addr, tr.ecs, tr.result, tr.network, tr.loc = addr, ecs, result, network, loc
}

// policy records the policy in force and the one that chose.
func (tr *trace) policy(requested, applied Policy) {
	tr.policied = true
	tr.requested, tr.applied = requested, applied
}

// costs records what each candidate costs the client located at loc, by
// the functions that byDistance and byLatency order them with.
func (tr *trace) costs(loc ClientLocation, table *LatencyTable, rtts map[string]time.Duration, cands []*ServiceCluster) {
	tr.fromRegion = latencyFrom(loc, table)
	tr.distance = make(map[string]float64, len(cands))
	tr.latency = make(map[string]latencyCost, len(cands))
	for _, sc := range cands {
		if loc.Known && sc.Location.Known {
			tr.distance[sc.Name] = distance(loc, sc.Cluster)
		}
		tr.latency[sc.Name] = latencyOf(tr.fromRegion, table, rtts, sc)
	}
}

// traceSelect is the selector's call in candidates, recording level and
// choice in tr.
func (f *Fed) traceSelect(ctx context.Context, state request.Request, svc *Service, cands []*ServiceCluster, level Level, tr *trace) []*ServiceCluster {
	tr.level = level
	tr.chose = true
	tr.eligible = memberNames(cands)
	var out []*ServiceCluster
	if ps, ok := f.Selector.(*PolicySelector); ok {
		out = ps.choose(ctx, state, svc, cands, tr)
	} else {
		out = f.Selector.Select(ctx, state, svc, cands)
	}
	tr.selected = memberNames(out)
	return out
}

func memberNames(cands []*ServiceCluster) []string {
	out := make([]string, len(cands))
	for i, sc := range cands {
		out[i] = sc.Name
	}
	return out
}
