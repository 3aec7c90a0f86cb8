package dnsserver

import (
	"context"
	"strings"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// ServeDNS implements plugin.Handler.
func (f *Fed) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	qname := state.Name()

	zone := f.zoneOf(qname)
	if zone == "" {
		if f.Next == nil {
			// Last in the chain: this is not an open resolver.
			return dns.RcodeRefused, nil
		}
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}

	if r.Opcode != dns.OpcodeQuery {
		// A NOTIFY or an UPDATE is not a question about the zone; conform,
		// when it runs first, has refused it already.
		answers.WithLabelValues(metrics.WithServer(ctx), levelOther, outcomeNotImp).Inc()
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNotImplemented)
		w.WriteMsg(m)
		return dns.RcodeSuccess, nil
	}

	idx := f.index.Load()
	if idx == nil || (f.signer != nil && !f.signer.ready()) {
		// Not synced yet: an empty answer now would be cached as the
		// truth, SERVFAIL makes resolvers ask again.
		answers.WithLabelValues(metrics.WithServer(ctx), "other", outcomeServFail).Inc()
		return dns.RcodeServerFailure, nil
	}

	// Only a query with ECS needs to know what its answer depended on.
	var q *queryInfo
	if ecsOption(r) != nil {
		ctx, q = withQuery(ctx)
	}
	m, level, outcome := f.answer(ctx, state, zone, idx, nil)
	if outcome == outcomeNXDomain && f.Fall.Through(qname) {
		return plugin.NextOrFailure(f.Name(), f.Next, ctx, w, r)
	}
	if f.signer != nil && state.Do() {
		if err := f.signReply(m, state, zone, idx, outcome); err != nil {
			log.Error(err)
			answers.WithLabelValues(metrics.WithServer(ctx), level, outcomeServFail).Inc()
			return dns.RcodeServerFailure, nil
		}
	}
	answers.WithLabelValues(metrics.WithServer(ctx), level, outcome).Inc()
	if q != nil {
		setECS(r, m, q)
	}
	// Every record repeats the question's name: compressed, three A
	// records take 108 bytes instead of 234, and more answers fit in a
	// datagram before a client must ask again over TCP.
	m.Compress = true
	w.WriteMsg(m)
	return dns.RcodeSuccess, nil
}

// Name implements plugin.Handler.
func (f *Fed) Name() string { return pluginName }

// zoneOf returns the longest of the plugin's zones that qname is in, or "".
// It is plugin.Zones.Matches without its allocations: a name with no
// escaped character ends at a label boundary wherever a '.' precedes the
// zone, so a suffix test is exact for it; a name with a backslash, rare
// and hostile more often than not, takes the label-wise path.
func (f *Fed) zoneOf(qname string) string {
	if strings.IndexByte(qname, '\\') >= 0 {
		return plugin.Zones(f.Zones).Matches(qname)
	}
	best := ""
	for _, z := range f.Zones {
		if len(z) <= len(best) || len(qname) < len(z) || !strings.EqualFold(qname[len(qname)-len(z):], z) {
			continue
		}
		if z == "." || len(qname) == len(z) || qname[len(qname)-len(z)-1] == '.' {
			best = z
		}
	}
	return best
}
