package dnsserver

import (
	"context"
	"net/netip"
	"strings"

	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// Labels of answers_total for names that are not a service's.
const (
	levelApex    = "apex"
	levelCluster = "cluster"
	levelOther   = "other"
)

// The SOA's timers matter only to secondaries, and coredns-fed has none
// (it refuses zone transfers); they are set to the least values that
// RIPE-203 and Zonemaster (Zone02 to Zone05) recommend, so that checkers
// find nothing to say.
const (
	soaRefresh = 14400
	soaRetry   = 3600
	soaExpire  = 1209600
)

// answer builds the reply to a query for a name in zone. It returns the
// reply, and the level and outcome the query is counted under. tr, when
// not nil, is told how the answer was decided (explain.go); ServeDNS
// passes nil.
func (f *Fed) answer(ctx context.Context, state request.Request, zone string, idx *Index, tr *trace) (*dns.Msg, string, string) {
	m := new(dns.Msg)
	m.SetReply(state.Req)
	m.Authoritative = true

	qname, qtype := state.Name(), state.QType()
	// Answers carry the name as asked, so that clients matching the
	// question's case (DNS 0x20) find it.
	owner := state.QName()

	if qtype == dns.TypeAXFR || qtype == dns.TypeIXFR {
		// The zone is computed per query and changes with every probe:
		// there is nothing a secondary could keep. REFUSED, not an empty
		// NOERROR, tells transfer tools at once.
		m.Rcode = dns.RcodeRefused
		m.Authoritative = false
		return m, levelOther, outcomeRefused
	}

	if ns := f.nameserver(zone, qname); ns != nil {
		if qtype == dns.TypeANY {
			m.Answer = []dns.RR{f.hinfo(owner)}
		} else {
			m.Answer = f.glue(owner, qtype, ns.Addrs)
		}
		if len(m.Answer) == 0 {
			return f.nodata(m, zone, idx), levelOther, outcomeNoData
		}
		return m, levelOther, outcomeSuccess
	}

	if f.aboveNameserver(zone, qname) {
		// An empty non-terminal on the way to a nameserver's name, such
		// as dns.<zone> for ns1.dns.<zone>: it exists, with no records
		// (RFC 8020).
		return f.nodata(m, zone, idx), levelOther, outcomeNoData
	}

	n := ParseName(qname, zone, f.Federation)
	if tr != nil {
		tr.name = n
	}
	switch n.Kind {
	case KindApex:
		switch qtype {
		case dns.TypeSOA:
			m.Answer = []dns.RR{f.soa(zone, idx)}
			m.Ns = f.nsRecords(zone)
		case dns.TypeNS:
			m.Answer = f.nsRecords(zone)
			m.Extra = f.allGlue(zone)
		case dns.TypeANY:
			m.Answer = []dns.RR{f.hinfo(owner)}
		case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
			if f.signer == nil {
				return f.nodata(m, zone, idx), levelApex, outcomeNoData
			}
			m.Answer = f.signer.keyRecords(qtype, zone, owner, f.NSTTL)
		default:
			return f.nodata(m, zone, idx), levelApex, outcomeNoData
		}
		return m, levelApex, outcomeSuccess

	case KindService:
		svc := idx.Service(n.Namespace, n.Service)
		if svc == nil || !idx.HasLocation(n.Region, n.Zone) {
			return f.nxdomain(m, zone, idx), n.Level.String(), outcomeNXDomain
		}
		if qtype == dns.TypeANY {
			m.Answer = []dns.RR{f.hinfo(owner)}
			return m, n.Level.String(), outcomeSuccess
		}
		cands, outcome := f.candidates(ctx, state, &n, svc, tr)
		m.Answer = f.addresses(owner, qtype, cands, outcome == outcomeFailOpen)
		if len(m.Answer) == 0 {
			return f.nodata(m, zone, idx), n.Level.String(), outcomeNoData
		}
		return m, n.Level.String(), outcome

	case KindSRV:
		svc := idx.Service(n.Namespace, n.Service)
		if svc == nil || !idx.HasLocation(n.Region, n.Zone) || !svc.HasPort(n.Port, n.Proto) {
			return f.nxdomain(m, zone, idx), n.Level.String(), outcomeNXDomain
		}
		switch qtype {
		case dns.TypeSRV:
			cands, outcome := f.candidates(ctx, state, &n, svc, tr)
			m.Answer, m.Extra = f.srv(owner, zone, &n, svc, cands, outcome == outcomeFailOpen)
			if len(m.Answer) == 0 {
				return f.nodata(m, zone, idx), n.Level.String(), outcomeNoData
			}
			return m, n.Level.String(), outcome
		case dns.TypeANY:
			m.Answer = []dns.RR{f.hinfo(owner)}
			return m, n.Level.String(), outcomeSuccess
		}
		return f.nodata(m, zone, idx), n.Level.String(), outcomeNoData

	case KindCluster:
		svc := idx.Service(n.Namespace, n.Service)
		var sc *ServiceCluster
		if svc != nil {
			sc = svc.Cluster(n.Cluster)
		}
		if sc == nil {
			return f.nxdomain(m, zone, idx), levelCluster, outcomeNXDomain
		}
		if qtype == dns.TypeANY {
			m.Answer = []dns.RR{f.hinfo(owner)}
			return m, levelCluster, outcomeSuccess
		}
		outcome := outcomeSuccess
		failOpen := !sc.Healthy && f.FailOpen && !anyHealthy(svc)
		if failOpen {
			outcome = outcomeFailOpen
		}
		if sc.Healthy || failOpen {
			m.Answer = f.addresses(owner, qtype, []*ServiceCluster{sc}, failOpen)
		}
		if len(m.Answer) == 0 {
			return f.nodata(m, zone, idx), levelCluster, outcomeNoData
		}
		return m, levelCluster, outcome

	case KindInterior:
		if f.interiorExists(idx, &n) {
			// An empty non-terminal has no records, of any type.
			return f.nodata(m, zone, idx), levelOther, outcomeNoData
		}
	}
	return f.nxdomain(m, zone, idx), levelOther, outcomeNXDomain
}

// interiorExists reports whether an empty non-terminal has a name below it.
func (f *Fed) interiorExists(idx *Index, n *Name) bool {
	if !idx.HasLocation(n.Region, n.Zone) {
		return false
	}
	switch {
	case n.Proto != "":
		svc := idx.Service(n.Namespace, n.Service)
		return svc != nil && svc.HasPort("", n.Proto)
	case n.Namespace != "":
		return idx.HasNamespace(n.Namespace)
	}
	return idx.Len() > 0
}

// nameserver returns the configured nameserver named qname in zone, or nil.
func (f *Fed) nameserver(zone, qname string) *Nameserver {
	for i := range f.Nameservers {
		if ns := &f.Nameservers[i]; ns.Name == qname && dns.IsSubDomain(zone, qname) {
			return ns
		}
	}
	return nil
}

// aboveNameserver reports whether qname, in zone and not its apex, is an
// ancestor of a nameserver's name.
func (f *Fed) aboveNameserver(zone, qname string) bool {
	if qname == zone {
		return false
	}
	for i := range f.Nameservers {
		// A proper ancestor is a shorter suffix: a cheap test that turns
		// away every Service name before the exact, label-wise one (this
		// runs for every query, and IsSubDomain was a fifth of its cost).
		name := f.Nameservers[i].Name
		if len(name) <= len(qname) || !strings.EqualFold(name[len(name)-len(qname):], qname) {
			continue
		}
		if dns.IsSubDomain(qname, name) && dns.IsSubDomain(zone, qname) {
			return true
		}
	}
	return false
}

func (f *Fed) nsRecords(zone string) []dns.RR {
	var rrs []dns.RR
	for _, ns := range f.Nameservers {
		rrs = append(rrs, &dns.NS{
			Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: f.NSTTL},
			Ns:  ns.Name,
		})
	}
	return rrs
}

// glue returns the address records of a nameserver's addresses of qtype.
func (f *Fed) glue(owner string, qtype uint16, addrs []netip.Addr) []dns.RR {
	var rrs []dns.RR
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: owner, Class: dns.ClassINET, Ttl: f.NSTTL}
		switch {
		case a.Is4() && qtype == dns.TypeA:
			hdr.Rrtype = dns.TypeA
			rrs = append(rrs, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case a.Is6() && qtype == dns.TypeAAAA:
			hdr.Rrtype = dns.TypeAAAA
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// allGlue returns the addresses of the nameservers inside zone, for the
// additional section of NS answers.
func (f *Fed) allGlue(zone string) []dns.RR {
	var rrs []dns.RR
	for _, ns := range f.Nameservers {
		if !dns.IsSubDomain(zone, ns.Name) {
			continue
		}
		rrs = append(rrs, f.glue(ns.Name, dns.TypeA, ns.Addrs)...)
		rrs = append(rrs, f.glue(ns.Name, dns.TypeAAAA, ns.Addrs)...)
	}
	return rrs
}

func (f *Fed) soa(zone string, idx *Index) *dns.SOA {
	rname := f.Rname
	if rname == "" {
		rname = "hostmaster." + zone
	}
	// Setup insists on a nameserver; a Fed built by hand may have none.
	mname := zone
	if len(f.Nameservers) > 0 {
		mname = f.Nameservers[0].Name
	}
	return &dns.SOA{
		// The SOA's own TTL is the negative TTL too, so that NXDOMAIN and
		// NODATA are cached for exactly NegativeTTL (RFC 2308, section 5).
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: f.NegativeTTL},
		Ns:      mname,
		Mbox:    rname,
		Serial:  idx.Serial(),
		Refresh: soaRefresh,
		Retry:   soaRetry,
		Expire:  soaExpire,
		Minttl:  f.NegativeTTL,
	}
}

// hinfo is the answer to ANY queries (RFC 8482, section 4.2).
func (f *Fed) hinfo(owner string) *dns.HINFO {
	return &dns.HINFO{
		Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: f.TTL},
		Cpu: "RFC8482",
	}
}

func (f *Fed) nodata(m *dns.Msg, zone string, idx *Index) *dns.Msg {
	m.Answer = nil
	m.Ns = []dns.RR{f.soa(zone, idx)}
	return m
}

func (f *Fed) nxdomain(m *dns.Msg, zone string, idx *Index) *dns.Msg {
	m.Rcode = dns.RcodeNameError
	m.Ns = []dns.RR{f.soa(zone, idx)}
	return m
}
