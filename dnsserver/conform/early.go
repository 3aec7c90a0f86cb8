package conform

import (
	"sync"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
)

// Some queries are answered before any plugin sees them: miekg/dns replies
// FORMERR, without an OPT record, to a query it cannot parse (an EDNS
// Client Subnet option with an unknown family or too long a prefix, a
// truncated option), and CoreDNS's server replies SERVFAIL to a query whose
// header promises a question that is not there. A resolver reads a FORMERR
// without OPT as "this server does not speak EDNS" and stops sending it,
// Client Subnet included. Neither library lets a plugin in before it
// replies; what they do offer is used here:
//
//   - miekg/dns's accept hook lets every opcode and question count through
//     to the plugins, where conform refuses them with a normalised reply.
//   - miekg/dns's invalid-message hook sees the bytes of every query it
//     could not parse; early remembers what they said of EDNS.
//   - CoreDNS's UDP writer decorator sees every UDP reply as it leaves;
//     early repairs the ones written before the plugins.
//
// Over TCP CoreDNS offers no such decorator, so there those two replies
// stay as the libraries write them (see README.md, Limitations).

// recentInvalid holds the last queries that could not be parsed. The
// reply to one is written right after its hook runs, on the same
// goroutine, so a short memory is enough.
type recentInvalid struct {
	mu   sync.Mutex
	ring [64]rawQuery
	next int
}

var invalid recentInvalid

func (r *recentInvalid) add(q rawQuery) {
	r.mu.Lock()
	r.ring[r.next] = q
	r.next = (r.next + 1) % len(r.ring)
	r.mu.Unlock()
}

// take finds and forgets the query that m replies to.
func (r *recentInvalid) take(m *dns.Msg) (rawQuery, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.ring {
		q := &r.ring[(r.next-1-i+2*len(r.ring))%len(r.ring)]
		if q.id != 0 || q.hasQuestion || q.hasOPT {
			if q.matches(m) {
				found := *q
				*q = rawQuery{}
				return found, true
			}
		}
	}
	return rawQuery{}, false
}

var installHooks sync.Once

// hook installs the process-wide miekg/dns hooks. They are read when a
// server starts, after every plugin's setup: installing them in setup is
// in time for the first start and for every reload.
func hook() {
	installHooks.Do(func() {
		dns.DefaultMsgAcceptFunc = accept
		dns.DefaultMsgInvalidFunc = rememberInvalid
	})
}

// accept is miekg/dns's accept hook: it drops replies, as the default does,
// and refuses a query without a question itself (CoreDNS would answer it
// SERVFAIL); everything else goes to the plugins, which refuse what they
// must with the reply the query asks for.
func accept(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore
	}
	if dh.Qdcount == 0 {
		return dns.MsgReject
	}
	return dns.MsgAccept
}

// rememberInvalid is miekg/dns's invalid-message hook.
func rememberInvalid(m []byte, _ error) {
	malformed.Inc()
	if q, ok := scanQuery(m); ok {
		invalid.add(q)
	}
}

// udpDecorator wraps a server's UDP writers in repairWriter, after any
// decorator already configured.
func udpDecorator(prev func(*dnsserver.Server) dns.DecorateWriter) func(*dnsserver.Server) dns.DecorateWriter {
	return func(s *dnsserver.Server) dns.DecorateWriter {
		var inner dns.DecorateWriter
		if prev != nil {
			inner = prev(s)
		}
		return func(w dns.Writer) dns.Writer {
			if inner != nil {
				w = inner(w)
			}
			return repairWriter{w}
		}
	}
}

// repairWriter repairs the UDP replies written before the plugins.
type repairWriter struct{ dns.Writer }

// Write implements dns.Writer.
func (w repairWriter) Write(b []byte) (int, error) {
	fixed, ok := repair(b)
	if !ok {
		return w.Writer.Write(b)
	}
	if _, err := w.Writer.Write(fixed); err != nil {
		return 0, err
	}
	return len(b), nil
}

// repair returns the reply b as it should have been written, and whether
// that differs. Only error replies are looked at: the plugins' answers
// pass through conform's writer already.
func repair(b []byte) ([]byte, bool) {
	if len(b) < headerLen {
		return nil, false
	}
	switch int(b[3] & 0x0F) {
	case dns.RcodeFormatError, dns.RcodeServerFailure, dns.RcodeNotImplemented, dns.RcodeRefused:
	default:
		return nil, false
	}
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return nil, false
	}
	changed := false
	if m.Rcode == dns.RcodeServerFailure && len(m.Question) == 0 {
		// CoreDNS's reply to a header that promised a question and
		// brought none (miekg/dns counts the questions it finds).
		m.Rcode = dns.RcodeFormatError
		changed = true
	}
	if m.Rcode == dns.RcodeFormatError && m.IsEdns0() == nil && len(m.Answer)+len(m.Ns)+len(m.Extra) == 0 {
		if q, ok := invalid.take(m); ok && q.hasOPT {
			opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
			opt.SetUDPSize(udpSize)
			if q.do {
				opt.SetDo()
			}
			m.Extra = append(m.Extra, opt)
			changed = true
		}
	}
	if normaliseOPT(m) {
		changed = true
	}
	if !changed {
		return nil, false
	}
	out, err := m.Pack()
	if err != nil {
		return nil, false
	}
	return out, true
}
