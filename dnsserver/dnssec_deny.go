package dnsserver

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Authenticated denial, made per query. No name list of the zone exists
// to chain NSEC records through: the names come and go with the members'
// Services. So a denial proves only the name asked about:
//
//   - NODATA: an NSEC owned by the name, its next name the name's
//     immediate successor (\000.name), its bitmap the types the name may
//     have, the asked one left out.
//   - NXDOMAIN: "white lies" (RFC 4470): an NSEC from just before the
//     next closer name to just after it and its descendants, which covers
//     the name and nothing that exists, and one that covers the wildcard
//     of the closest encloser in the same way. The reply stays NXDOMAIN,
//     which validating resolvers pass on with AD; "black lies" (NODATA
//     for every name) would turn it into NOERROR.
//
// The names these records invent are names no Service can have (their
// labels end in \255 or \000, or are \000; the zone's names are of
// letters, digits, '-' and '_'), so no NSEC ever covers a name that
// exists.

// maxLabelLen and maxNameLen are the longest label and name on the wire.
const (
	maxLabelLen = 63
	maxNameLen  = 255
)

// nameTypes returns the types that the name, lower case and in zone, may
// have, and whether it exists: an empty non-terminal exists with none.
// A name's types do not change with health: a NODATA for AAAA must still
// show that the name may have an A record, or a resolver that reuses the
// NSEC (RFC 8198) would deny it.
func (f *Fed) nameTypes(zone, name string, idx *Index) ([]uint16, bool) {
	if ns := f.nameserver(zone, name); ns != nil {
		var types []uint16
		for _, a := range ns.Addrs {
			t := dns.TypeAAAA
			if a.Is4() {
				t = dns.TypeA
			}
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
		return types, true
	}
	if f.aboveNameserver(zone, name) {
		return nil, true
	}
	n := ParseName(name, zone, f.Federation)
	switch n.Kind {
	case KindApex:
		types := []uint16{dns.TypeSOA, dns.TypeNS}
		if f.signer != nil {
			types = append(types, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY)
		}
		return types, true
	case KindService:
		svc := idx.Service(n.Namespace, n.Service)
		return []uint16{dns.TypeA, dns.TypeAAAA}, svc != nil && idx.HasLocation(n.Region, n.Zone)
	case KindSRV:
		svc := idx.Service(n.Namespace, n.Service)
		return []uint16{dns.TypeSRV}, svc != nil && idx.HasLocation(n.Region, n.Zone) && svc.HasPort(n.Port, n.Proto)
	case KindCluster:
		svc := idx.Service(n.Namespace, n.Service)
		return []uint16{dns.TypeA, dns.TypeAAAA}, svc != nil && svc.Cluster(n.Cluster) != nil
	case KindInterior:
		return nil, f.interiorExists(idx, &n)
	}
	return nil, false
}

// noDataProof returns the NSEC record that proves that name (as asked)
// has no record of qtype but exists with types.
func noDataProof(owner string, qtype uint16, types []uint16, ttl uint32) *dns.NSEC {
	bitmap := []uint16{dns.TypeNSEC, dns.TypeRRSIG}
	for _, t := range types {
		if t != qtype {
			bitmap = append(bitmap, t)
		}
	}
	slices.Sort(bitmap)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: successor(strings.ToLower(owner)),
		TypeBitMap: bitmap,
	}
}

// nxdomainProof returns the NSEC records that prove that name, lower case
// in zone, does not exist: one covering its next closer name (the child of
// its closest encloser on the way to it, and with it every name below),
// and one covering the wildcard of the closest encloser, unless one NSEC
// covers both. Covering the name alone would not do when its parent does
// not exist either: validators take the closest encloser to be the
// longest name an NSEC's owner or next name shares with the name.
func (f *Fed) nxdomainProof(zone, name string, idx *Index, ttl uint32) []dns.RR {
	ce := f.closestEncloser(zone, name, idx)
	nextCloser := name
	for p := parentName(nextCloser); p != "" && p != ce; p = parentName(p) {
		nextCloser = p
	}
	out := []dns.RR{cover(nextCloser, ttl)}
	if wildcard := "*." + ce; wildcard != nextCloser && len(wildcard) < maxNameLen {
		out = append(out, cover(wildcard, ttl))
	}
	return out
}

// closestEncloser returns the longest ancestor of name that exists in
// zone: the apex at the least.
func (f *Fed) closestEncloser(zone, name string, idx *Index) string {
	for a := parentName(name); a != "" && a != zone && dns.IsSubDomain(zone, a); a = parentName(a) {
		if _, ok := f.nameTypes(zone, a, idx); ok {
			return a
		}
	}
	return zone
}

// parentName returns name less its first label, or "" for the root.
func parentName(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end {
		return ""
	}
	return name[off:]
}

// cover returns an NSEC record from the predecessor of name to the next
// sibling after it: it denies name, and no other name that could exist.
// The next name is not \000.name, a child of the name: validators find the
// closest encloser as the longest name an NSEC's owner or next name shares
// with the name denied (RFC 5155, 8.3, and unbound alike), and a child
// would make it the name itself.
func cover(name string, ttl uint32) *dns.NSEC {
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: predecessor(name), Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: nextSibling(name),
		TypeBitMap: []uint16{dns.TypeNSEC, dns.TypeRRSIG},
	}
}

// successor returns the first name after name in canonical order, its
// child \000.name, or, when that would be too long, nextSibling's.
func successor(name string) string {
	if wireLen(name)+2 <= maxNameLen {
		return `\000.` + name
	}
	return nextSibling(name)
}

// nextSibling returns the first name after name and all its descendants
// in canonical order: name with \000 after its first label's octets, or,
// when the label or the name has no room, with the label's last octet one
// greater.
func nextSibling(name string) string {
	label, rest := splitFirst(name)
	b := []byte(label)
	switch {
	case len(b) < maxLabelLen && wireLen(name) < maxNameLen:
		b = append(b, 0)
	case len(b) > 0 && b[len(b)-1] < 0xff:
		b[len(b)-1]++
	}
	return escapeLabel(b) + "." + rest
}

// predecessor returns a name just before name in canonical order, below
// which no name of the zone could be: the first label with its last
// octet one less and \255 after it, as long as the label and the name
// allow. A first label whose last octet is \000 gives the label without
// it, which is a name's own predecessor, so a label \255 goes before it.
func predecessor(name string) string {
	label, rest := splitFirst(name)
	b := []byte(label)
	if len(b) == 0 {
		return name
	}
	room := min(maxLabelLen-len(b), maxNameLen-wireLen(name))
	last := b[len(b)-1]
	if last == 0 {
		if len(b) == 1 {
			// The name is \000.parent, which follows the parent at once.
			return rest
		}
		return `\255.` + escapeLabel(b[:len(b)-1]) + "." + rest
	}
	last--
	if last >= 'A' && last <= 'Z' {
		// Upper case sorts as lower case: the octet below 'A' is the
		// nearest that sorts below the label's.
		last = 'A' - 1
	}
	b[len(b)-1] = last
	for range max(room, 0) {
		b = append(b, 0xff)
	}
	return escapeLabel(b) + "." + rest
}

// splitFirst splits an absolute name in presentation format into its
// first label, unescaped, and the rest ("." for a top-level name).
func splitFirst(name string) (string, string) {
	labels := dns.SplitDomainName(name)
	if len(labels) == 0 {
		return "", "."
	}
	label := unescapeLabel(labels[0])
	off, _ := dns.NextLabel(name, 0)
	return label, name[off:]
}

// unescapeLabel turns a label's \DDD and \X escapes into its octets.
func unescapeLabel(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			b = append(b, (s[i+1]-'0')*100+(s[i+2]-'0')*10+(s[i+3]-'0'))
			i += 3
			continue
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// escapeLabel writes the octets of a label in presentation format.
func escapeLabel(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c <= ' ' || c >= 0x7f:
			s.WriteByte('\\')
			s.WriteByte('0' + c/100)
			s.WriteByte('0' + c/10%10)
			s.WriteByte('0' + c%10)
		default:
			s.WriteByte(c)
		}
	}
	return s.String()
}

// wireLen is the length of an absolute name on the wire.
func wireLen(name string) int {
	n := 1
	for _, l := range dns.SplitDomainName(name) {
		n += len(unescapeLabel(l)) + 1
	}
	return n
}
