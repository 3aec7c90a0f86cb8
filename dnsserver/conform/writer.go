package conform

import (
	"encoding/hex"
	"net"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// udpSize is the UDP payload size the server advertises: the DNS Flag Day
// 2020 value, which avoids IP fragmentation on every common path.
const udpSize = 1232

// implemented are the EDNS options a plugin's reply may carry: those some
// plugin of the server puts there itself (fed's Client Subnet scope, the
// nsid plugin's NSID) and Extended DNS Errors. Anything else in a reply's
// OPT is an echo of the query, which tells the client an option is
// understood when it is not: a COOKIE echoed is a client cookie presented
// as a server cookie (RFC 7873, section 5.2.3). conform adds the COOKIE
// itself, with a real server cookie.
var implemented = map[uint16]bool{
	dns.EDNS0SUBNET: true,
	dns.EDNS0NSID:   true,
	dns.EDNS0EDE:    true,
}

// writer normalises the replies of the plugins after conform.
type writer struct {
	dns.ResponseWriter
	req *dns.Msg
	// opt is the query's OPT record, or nil without EDNS.
	opt *dns.OPT
	// size is what the client can take over this transport.
	size int
	// cookie is the query's COOKIE option, if it had a well-formed one.
	cookie  *dns.EDNS0_COOKIE
	written bool
}

func newWriter(w dns.ResponseWriter, r *dns.Msg) *writer {
	state := reqState(w, r)
	cw := &writer{ResponseWriter: w, req: r, opt: r.IsEdns0(), size: state.Size()}
	if cw.opt != nil {
		for _, o := range cw.opt.Option {
			if c, ok := o.(*dns.EDNS0_COOKIE); ok {
				cw.cookie = c
				break
			}
		}
	}
	return cw
}

// WriteMsg implements dns.ResponseWriter.
func (w *writer) WriteMsg(m *dns.Msg) error {
	w.written = true
	setOPT(m, w.opt)
	if o := m.IsEdns0(); o != nil && w.cookie != nil {
		if c := w.replyCookie(); c != nil {
			o.Option = append(o.Option, c)
		}
	}
	fitAdditional(m, w.size)
	return w.ResponseWriter.WriteMsg(m)
}

// replyCookie returns the COOKIE option of the reply: the client's cookie
// and this server's, or nil when the query's was malformed.
func (w *writer) replyCookie() *dns.EDNS0_COOKIE {
	client, sent, ok := cookieOf(w.cookie)
	if !ok {
		return nil
	}
	state := reqState(w.ResponseWriter, w.req)
	server := serverCookie(client, sent, net.ParseIP(state.IP()))
	return &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(client) + hex.EncodeToString(server)}
}

// setOPT gives m the OPT record that a reply to a query with the OPT q
// must have (RFC 6891, section 7): none when q is nil; otherwise exactly
// one, of version 0, with the DO bit of q and no other flag, advertising
// udpSize, and with the implemented options that m already carries.
func setOPT(m *dns.Msg, q *dns.OPT) {
	var options []dns.EDNS0
	extra := m.Extra[:0]
	for _, rr := range m.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			extra = append(extra, rr)
			continue
		}
		for _, e := range o.Option {
			if implemented[e.Option()] {
				options = append(options, e)
			}
		}
	}
	m.Extra = extra
	if q == nil {
		return
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}, Option: options}
	opt.SetUDPSize(udpSize)
	if q.Do() {
		opt.SetDo()
	}
	m.Extra = append(m.Extra, opt)
}

// fitAdditional drops additional RRsets, last first, each with the RRSIGs
// that cover it, until m fits in size bytes. Glue and the addresses of SRV targets are there to save a
// query, not needed to use the answer: RFC 2181, section 9, asks for TC
// only when the answer or authority does not fit, so what is dropped here
// is dropped without it, and CoreDNS's own truncation, which sets TC for
// any record it drops, then finds nothing left to drop.
func fitAdditional(m *dns.Msg, size int) {
	// Most replies have nothing to drop: spare them a measure, which
	// CoreDNS's truncation makes again.
	if lastNonOPT(m.Extra) < 0 || m.Len() <= size {
		return
	}
	m.Compress = true
	for m.Len() > size {
		i := lastNonOPT(m.Extra)
		if i < 0 {
			return
		}
		m.Extra = dropRRset(m.Extra, m.Extra[i])
	}
}

// dropRRset removes from rrs the RRset rr belongs to, with the RRSIGs that
// cover it: a validator throws away an RRset whose signature was dropped,
// and a signature whose RRset was dropped is bytes for nothing.
func dropRRset(rrs []dns.RR, rr dns.RR) []dns.RR {
	name, typ := rr.Header().Name, coveredType(rr)
	return slices.DeleteFunc(rrs, func(r dns.RR) bool {
		h := r.Header()
		return h.Rrtype != dns.TypeOPT && coveredType(r) == typ && strings.EqualFold(h.Name, name)
	})
}

// coveredType is the type of the RRset a record belongs to: its own, or
// for an RRSIG the type it signs.
func coveredType(rr dns.RR) uint16 {
	if sig, ok := rr.(*dns.RRSIG); ok {
		return sig.TypeCovered
	}
	return rr.Header().Rrtype
}

func lastNonOPT(rrs []dns.RR) int {
	for i := len(rrs) - 1; i >= 0; i-- {
		if rrs[i].Header().Rrtype != dns.TypeOPT {
			return i
		}
	}
	return -1
}
