package dnsserver

import (
	"context"

	"github.com/coredns/coredns/request"
)

// Selector chooses, per query, which members answer for a Service and in
// which order. It is the plugin's one point of policy: the handler has
// already picked the level (zone, region or global, widening when nothing
// is healthy) and kept only the members that may answer.
//
// Select may reorder candidates in place and return a prefix of it, or
// return a slice of its own; it must not keep candidates after it returns,
// since the handler reuses the array. The answer lists the entry points of
// the returned members in the returned order, up to the address cap.
//
// ctx carries the metadata of the metadata plugin (the geoip plugin's
// location of the client, for one) and state the query, with its EDNS0
// options and source address. Select runs on every query and must not
// block.
type Selector interface {
	Select(ctx context.Context, state request.Request, svc *Service, candidates []*ServiceCluster) []*ServiceCluster
}

// SelectorFunc adapts a function to a Selector.
type SelectorFunc func(ctx context.Context, state request.Request, svc *Service, candidates []*ServiceCluster) []*ServiceCluster

// Select calls f.
func (f SelectorFunc) Select(ctx context.Context, state request.Request, svc *Service, candidates []*ServiceCluster) []*ServiceCluster {
	return f(ctx, state, svc, candidates)
}

// SelectAll answers with every candidate, in the order of the members'
// names. The plugin's selector is a PolicySelector (policy.go); this one
// is for tests and for embedding the plugin without policies.
var SelectAll Selector = SelectorFunc(func(_ context.Context, _ request.Request, _ *Service, candidates []*ServiceCluster) []*ServiceCluster {
	return candidates
})
