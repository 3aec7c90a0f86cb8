package dnsserver

import (
	"context"
	"math/bits"
	"net/netip"

	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// The records of a Service's names: the members that answer, picked by
// health, scope and the selector, and their addresses or SRV records.

// candidates returns the members that answer for a Service name, ordered by
// the selector, and the outcome: success at the name's own level, fallback
// when a zone or region had nothing healthy and a wider level answers
// instead, fail_open when nothing is healthy anywhere and the policy says
// to answer with everything, nodata when it says not to.
//
// tr, when not nil, is told the level that answered and the candidates
// before and after the selector.
func (f *Fed) candidates(ctx context.Context, state request.Request, n *Name, svc *Service, tr *trace) ([]*ServiceCluster, string) {
	// One allocation of the right size: the selector reorders the slice,
	// and through its interface any buffer escapes.
	buf := make([]*ServiceCluster, 0, len(svc.Clusters))
	outcome := outcomeSuccess
	level := n.Level
	for ; ; level-- {
		buf = svc.appendHealthy(buf[:0], level, n.Region, n.Zone)
		if len(buf) > 0 {
			if level != n.Level {
				outcome = outcomeFallback
			}
			break
		}
		if level == LevelGlobal {
			break
		}
	}
	if len(buf) == 0 {
		if !f.FailOpen {
			if tr != nil {
				tr.level = level
			}
			return nil, outcomeNoData
		}
		buf = append(buf, svc.Clusters...)
		outcome = outcomeFailOpen
	}
	if tr != nil {
		return f.traceSelect(ctx, state, svc, buf, level, tr), outcome
	}
	return f.Selector.Select(ctx, state, svc, buf), outcome
}

// appendHealthy appends to buf the Service's healthy members within the
// scope of a level of a name, in the members' order.
func (svc *Service) appendHealthy(buf []*ServiceCluster, level Level, region, zone string) []*ServiceCluster {
	if level == LevelGlobal && len(svc.Clusters) <= maskedClusters {
		for m := svc.healthy; m != 0; m &= m - 1 {
			buf = append(buf, svc.Clusters[bits.TrailingZeros64(m)])
		}
		return buf
	}
	for _, sc := range svc.Clusters {
		if sc.Healthy && inScope(sc.Cluster, level, region, zone) {
			buf = append(buf, sc)
		}
	}
	return buf
}

// inScope reports whether c is within the scope of a level of a name.
func inScope(c *Cluster, level Level, region, zone string) bool {
	switch level {
	case LevelRegion:
		return c.Region == region
	case LevelZone:
		return c.Region == region && c.Zone == zone
	}
	return true
}

func anyHealthy(svc *Service) bool {
	for _, sc := range svc.Clusters {
		if sc.Healthy {
			return true
		}
	}
	return false
}

// addresses returns the records of the candidates' entry points for qtype,
// in the candidates' order, at most MaxAddresses of them. all takes every
// entry point, healthy or not. Addresses win over host names: a CNAME,
// which cannot share its name with other records, is answered only when
// no candidate has an address.
//
// It reads no candidate past those the answer needs: with many members,
// each candidate read is a cache miss, and the first usually has an
// address.
func (f *Fed) addresses(owner string, qtype uint16, cands []*ServiceCluster, all bool) []dns.RR {
	first, hostname := -1, ""
	for i, sc := range cands {
		if addr, host := sc.firstEntryPoint(all); addr {
			first = i
			break
		} else if hostname == "" {
			hostname = host
		}
	}
	if first < 0 {
		if hostname == "" {
			return nil
		}
		return []dns.RR{&dns.CNAME{
			Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: f.TTL},
			Target: hostname,
		}}
	}
	if qtype != dns.TypeA && qtype != dns.TypeAAAA {
		return nil
	}
	rrs := make([]dns.RR, 0, min(len(cands)-first, f.MaxAddresses))
	for _, sc := range cands[first:] {
		if len(rrs) >= f.MaxAddresses {
			break
		}
		rrs = f.appendAddrs(rrs, owner, qtype, sc, all)
	}
	return rrs
}

// firstEntryPoint reports whether sc has an address among the entry
// points the answer may take (all of them, or the healthy ones), and
// else the first such host name.
func (sc *ServiceCluster) firstEntryPoint(all bool) (addr bool, hostname string) {
	for i := range sc.EntryPoints {
		ep := &sc.EntryPoints[i]
		if !ep.Healthy && !all {
			continue
		}
		if ep.Addr.IsValid() {
			return true, ""
		}
		if hostname == "" {
			hostname = ep.Hostname
		}
	}
	return false, hostname
}

// appendAddrs appends the records of one member's addresses of type qtype,
// skipping duplicates and stopping at MaxAddresses.
func (f *Fed) appendAddrs(rrs []dns.RR, owner string, qtype uint16, sc *ServiceCluster, all bool) []dns.RR {
	for i := range sc.EntryPoints {
		ep := &sc.EntryPoints[i]
		if len(rrs) >= f.MaxAddresses {
			break
		}
		if (!ep.Healthy && !all) || !ep.Addr.IsValid() || ep.Addr.Is4() != (qtype == dns.TypeA) || hasAddr(rrs, ep.Addr) {
			continue
		}
		hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: f.TTL}
		// One allocation holds a record and its address: the record's
		// slice points into the array beside it.
		if qtype == dns.TypeA {
			r := &struct {
				rr dns.A
				ip [4]byte
			}{rr: dns.A{Hdr: hdr}, ip: ep.Addr.As4()}
			r.rr.A = r.ip[:]
			rrs = append(rrs, &r.rr)
		} else {
			r := &struct {
				rr dns.AAAA
				ip [16]byte
			}{rr: dns.AAAA{Hdr: hdr}, ip: ep.Addr.As16()}
			r.rr.AAAA = r.ip[:]
			rrs = append(rrs, &r.rr)
		}
	}
	return rrs
}

func hasAddr(rrs []dns.RR, addr netip.Addr) bool {
	for _, rr := range rrs {
		var ip []byte
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		}
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == addr {
			return true
		}
	}
	return false
}

// srv returns the SRV records of a named port, one per candidate member
// with that port (targets <cluster>.<svc>.<ns>.<fed>.svc.<zone>, whose
// addresses go in the additional section), and one per host-name entry
// point (the host name is the target).
func (f *Fed) srv(owner, zone string, n *Name, svc *Service, cands []*ServiceCluster, all bool) (answer, extra []dns.RR) {
	for _, sc := range cands {
		port, ok := sc.Port(n.Port, n.Proto)
		if !ok {
			continue
		}
		hasAddr := false
		for i := range sc.EntryPoints {
			ep := &sc.EntryPoints[i]
			if len(answer) >= f.MaxAddresses {
				break
			}
			if !ep.Healthy && !all {
				continue
			}
			if ep.Addr.IsValid() {
				hasAddr = true
				continue
			}
			answer = append(answer, f.srvRecord(owner, port, ep.Hostname))
		}
		if hasAddr && len(answer) < f.MaxAddresses {
			target := sc.Name + "." + svc.Name + "." + svc.Namespace + "." + f.Federation + ".svc." + zone
			answer = append(answer, f.srvRecord(owner, port, target))
			extra = f.appendAddrs(extra, target, dns.TypeA, sc, all)
			extra = f.appendAddrs(extra, target, dns.TypeAAAA, sc, all)
		}
	}
	// Equal weights: the order, and with it any preference, is the
	// selector's.
	if len(answer) > 0 {
		w := uint16(max(1, 100/len(answer)))
		for _, rr := range answer {
			rr.(*dns.SRV).Weight = w
		}
	}
	return answer, extra
}

func (f *Fed) srvRecord(owner string, port uint16, target string) *dns.SRV {
	return &dns.SRV{
		Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: f.TTL},
		Port:   port,
		Target: target,
	}
}
