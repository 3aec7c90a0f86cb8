package conform

import (
	"encoding/binary"
	"strings"

	"github.com/miekg/dns"
)

const headerLen = 12

// rawQuery is what can be read of a query that miekg/dns could not parse:
// enough to tell whether its FORMERR must carry an OPT record.
type rawQuery struct {
	id       uint16
	question dns.Question
	// hasQuestion is set when the question section could be read.
	hasQuestion bool
	// hasOPT is set when the additional section holds an OPT record,
	// whatever is wrong inside it, and do is its DO bit.
	hasOPT, do bool
}

// scanQuery reads what it can of a query, without giving up at the first
// thing it cannot parse: the point is to learn about a message that the
// strict parser rejected.
func scanQuery(b []byte) (rawQuery, bool) {
	if len(b) < headerLen {
		return rawQuery{}, false
	}
	q := rawQuery{id: binary.BigEndian.Uint16(b)}
	counts := [4]int{}
	for i := range counts {
		counts[i] = int(binary.BigEndian.Uint16(b[4+2*i:]))
	}
	off := headerLen
	for i := range counts[0] {
		name, next, err := dns.UnpackDomainName(b, off)
		if err != nil || next+4 > len(b) {
			return q, true
		}
		if i == 0 {
			q.question = dns.Question{
				Name:   name,
				Qtype:  binary.BigEndian.Uint16(b[next:]),
				Qclass: binary.BigEndian.Uint16(b[next+2:]),
			}
			q.hasQuestion = true
		}
		off = next + 4
	}
	records := counts[1] + counts[2] + counts[3]
	for i := range records {
		_, next, err := dns.UnpackDomainName(b, off)
		if err != nil || next+10 > len(b) {
			return q, true
		}
		rrtype := binary.BigEndian.Uint16(b[next:])
		ttl := binary.BigEndian.Uint32(b[next+4:])
		rdlen := int(binary.BigEndian.Uint16(b[next+8:]))
		if i >= counts[1]+counts[2] && rrtype == dns.TypeOPT {
			q.hasOPT = true
			q.do = ttl&0x8000 != 0
			return q, true
		}
		off = next + 10 + rdlen
		if off > len(b) {
			return q, true
		}
	}
	return q, true
}

// matches reports whether the reply m answers the query q: same ID, and
// the same question when the reply has one.
func (q *rawQuery) matches(m *dns.Msg) bool {
	if m.Id != q.id {
		return false
	}
	if len(m.Question) == 0 {
		return !q.hasQuestion
	}
	a, b := m.Question[0], q.question
	return q.hasQuestion && a.Qtype == b.Qtype && a.Qclass == b.Qclass && strings.EqualFold(a.Name, b.Name)
}

// normaliseOPT makes the OPT record of a reply that no plugin wrote (the
// server's own REFUSED and SERVFAIL, which copy the query's OPT) what
// setOPT would have made it: no flag but DO, version 0, no option that is
// not implemented. The payload size is left as CoreDNS sets it on every
// reply. It reports whether it changed anything.
func normaliseOPT(m *dns.Msg) bool {
	o := m.IsEdns0()
	if o == nil {
		return false
	}
	changed := false
	if flags := uint16(o.Hdr.Ttl) &^ 0x8000; flags != 0 || o.Version() != 0 {
		do := o.Do()
		o.Hdr.Ttl &= 0xFF000000 // the extended rcode stays
		if do {
			o.SetDo()
		}
		changed = true
	}
	kept := o.Option[:0]
	for _, e := range o.Option {
		if implemented[e.Option()] {
			kept = append(kept, e)
		}
	}
	if len(kept) != len(o.Option) {
		o.Option = kept
		changed = true
	}
	return changed
}
