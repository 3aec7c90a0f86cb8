package dnsserver

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"

	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/explain"
)

// explain answers a query as ServeDNS would, through the same answer code
// with a trace, and reports how the answer was decided from the server's
// live state: the index the query was answered from, the probes' results
// and the policy's own choice. Nothing is counted in the query metrics, and
// the answer is not signed.

// explainQuery is a question to explain: a name and a type, asked from
// source, with an ECS option for ecs when it is valid.
type explainQuery struct {
	name   string
	qtype  uint16
	source netip.Addr
	ecs    netip.Prefix
}

// Why a query cannot be explained.
var (
	errNotInZone = errors.New("the name is not in a zone of this server")
	errNotSynced = errors.New("the server has not synced with the federation yet")
)

func (f *Fed) explain(q explainQuery) (*explain.Report, error) {
	req := new(dns.Msg)
	req.SetQuestion(dns.Fqdn(q.name), q.qtype)
	if q.ecs.IsValid() {
		req.SetEdns0(dns.DefaultMsgSize, false)
		family := uint16(1)
		if q.ecs.Addr().Is6() {
			family = 2
		}
		opt := req.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
			Code:          dns.EDNS0SUBNET,
			Family:        family,
			SourceNetmask: uint8(q.ecs.Bits()),
			Address:       q.ecs.Masked().Addr().AsSlice(),
		})
	}
	state := request.Request{W: &explainWriter{remote: q.source}, Req: req}
	zone := f.zoneOf(state.Name())
	if zone == "" {
		return nil, errNotInZone
	}
	idx := f.index.Load()
	if idx == nil {
		return nil, errNotSynced
	}

	ctx, qi := withQuery(context.Background())
	tr := &trace{}
	m, _, outcome := f.answer(ctx, state, zone, idx, tr)

	rep := &explain.Report{
		Query:  explain.Query{Name: req.Question[0].Name, Type: dns.TypeToString[q.qtype]},
		Zone:   zone,
		Kind:   f.kindOf(zone, state.Name(), tr),
		Serial: idx.Serial(),
	}
	if q.source.IsValid() {
		rep.Query.Source = q.source.String()
	}
	if q.ecs.IsValid() {
		rep.Query.ECS = q.ecs.String()
	}
	if tr.name.Kind == KindService || tr.name.Kind == KindSRV {
		rep.Level = tr.name.Level.String()
		if tr.chose || outcome == outcomeNoData {
			rep.AnsweredLevel = tr.level.String()
		}
	}
	if tr.lookedUp {
		rep.Client = f.explainClient(tr)
	}
	if svc := f.explainService(idx, tr); svc != nil {
		if tr.policied {
			rep.Policy = f.explainPolicy(svc, tr)
		}
		rep.Clusters = f.explainClusters(svc, tr)
	}
	rep.Answer = explainAnswer(m, outcome)
	if outcome == outcomeNXDomain && f.Fall.Through(state.Name()) {
		rep.Answer.Fallthrough = true
	}
	if q.ecs.IsValid() {
		setECS(req, m, qi)
		if e := ecsOption(m); e != nil {
			scope := e.SourceScope
			rep.Answer.ECSScope = &scope
		}
	}
	return rep, nil
}

// kindOf names the kind of name the query asked for.
func (f *Fed) kindOf(zone, qname string, tr *trace) string {
	switch {
	case f.nameserver(zone, qname) != nil:
		return "nameserver"
	case f.aboveNameserver(zone, qname):
		return "interior"
	}
	switch tr.name.Kind {
	case KindApex:
		return "apex"
	case KindService:
		return "service"
	case KindSRV:
		return "srv"
	case KindCluster:
		return "cluster"
	case KindInterior:
		return "interior"
	}
	return "other"
}

// explainService returns the federated Service a name of a Service stands
// for, or nil.
func (f *Fed) explainService(idx *Index, tr *trace) *Service {
	switch tr.name.Kind {
	case KindService, KindSRV, KindCluster:
		return idx.Service(tr.name.Namespace, tr.name.Service)
	}
	return nil
}

func (f *Fed) explainClient(tr *trace) *explain.Client {
	c := &explain.Client{From: explain.FromSource, Result: tr.result, LatencyRegion: tr.fromRegion}
	if tr.ecs {
		c.From = explain.FromECS
	}
	if tr.addr.IsValid() {
		c.Address = tr.addr.String()
	}
	if tr.network.IsValid() {
		c.Network = tr.network.String()
	}
	if tr.loc.Known {
		c.Latitude, c.Longitude = &tr.loc.Latitude, &tr.loc.Longitude
	}
	if db := f.locatorDB(); db != nil && tr.addr.IsValid() && (tr.result == lookupFound || tr.result == lookupNotFound) {
		c.City, c.Country = db.place(tr.addr)
	}
	return c
}

// locatorDB returns the database the policy locates clients with, or nil.
func (f *Fed) locatorDB() *GeoDB {
	if ps, ok := f.Selector.(*PolicySelector); ok && ps.Locate != nil {
		return ps.Locate.DB
	}
	return nil
}

func (f *Fed) explainPolicy(svc *Service, tr *trace) *explain.Policy {
	p := &explain.Policy{Requested: tr.requested.String(), Source: explain.SourceCorefile, Applied: tr.applied.String()}
	if svc.Selection.Policy != PolicyDefault {
		// The Service's policy is that of the first member, in the
		// index's order, whose annotation sets it (indexBuilder.service).
		p.Source = explain.SourceAnnotation
		for _, sc := range svc.Clusters {
			if sc.selection.Policy != PolicyDefault {
				p.SourceCluster = sc.Name
				break
			}
		}
	}
	switch tr.requested {
	case PolicyGeo, PolicyLatency:
		if ps, ok := f.Selector.(*PolicySelector); ok {
			p.Nearest = max(1, ps.Nearest)
		}
	case PolicyWeighted:
		p.Weights = svc.Selection.Weights
	case PolicyFailover:
		p.Failover = svc.Selection.Failover
	}
	return p
}

func (f *Fed) explainClusters(svc *Service, tr *trace) []explain.Cluster {
	probes := f.explainProbes(svc)
	out := make([]explain.Cluster, 0, len(svc.Clusters))
	for _, sc := range svc.Clusters {
		c := explain.Cluster{
			Name:      sc.Name,
			Region:    sc.Region,
			Zone:      sc.Zone,
			Ready:     sc.Ready,
			Healthy:   sc.Healthy,
			Candidate: slices.Contains(tr.eligible, sc.Name),
			Rank:      slices.Index(tr.selected, sc.Name) + 1,
		}
		for _, ep := range sc.EntryPoints {
			e := explain.EntryPoint{Hostname: ep.Hostname, Healthy: ep.Healthy, Probes: probes[probeKey{sc.Name, probeHost(ep)}]}
			if ep.Addr.IsValid() {
				e.Address = ep.Addr.String()
			}
			c.EntryPoints = append(c.EntryPoints, e)
		}
		if d, ok := tr.distance[sc.Name]; ok {
			c.DistanceKm = &d
		}
		if l, ok := tr.latency[sc.Name]; ok && l.tier != latencyUnknown {
			c.Latency = &explain.Latency{Millis: millis(l.d), Source: explain.LatencyProbe}
			if l.tier == latencyTable {
				c.Latency.Source = explain.LatencyTable
			}
		}
		out = append(out, c)
	}
	return out
}

func explainAnswer(m *dns.Msg, outcome string) explain.Answer {
	a := explain.Answer{Rcode: dns.RcodeToString[m.Rcode], Outcome: outcome}
	for _, rr := range m.Answer {
		a.TTL = rr.Header().Ttl
		a.Records = append(a.Records, rr.String())
	}
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			a.Records = append(a.Records, rr.String())
		}
	}
	if len(m.Answer) == 0 {
		for _, rr := range m.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				a.TTL = soa.Hdr.Ttl
			}
		}
	}
	return a
}

// explainWriter is the ResponseWriter of an explained query: it holds the
// source address the query is taken to come from, and writes nothing.
type explainWriter struct {
	remote netip.Addr
}

func (w *explainWriter) LocalAddr() net.Addr { return &net.UDPAddr{} }

func (w *explainWriter) RemoteAddr() net.Addr {
	if !w.remote.IsValid() {
		return &net.UDPAddr{}
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(w.remote, 0))
}

func (w *explainWriter) WriteMsg(*dns.Msg) error     { return nil }
func (w *explainWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *explainWriter) Close() error                { return nil }
func (w *explainWriter) TsigStatus() error           { return nil }
func (w *explainWriter) TsigTimersOnly(bool)         {}
func (w *explainWriter) Hijack()                     {}
