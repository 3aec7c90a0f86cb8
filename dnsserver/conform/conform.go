// Package conform is the CoreDNS plugin conform: it stands in front of the
// data plugins of a server block (fed, file) and makes what the block
// answers follow the DNS protocol where CoreDNS and miekg/dns leave gaps.
// It refuses what an authoritative server must not answer (opcodes other
// than QUERY, malformed EDNS), and gives every reply the OPT record that
// RFC 6891 asks for: version 0, no unknown flags, only the options that
// are implemented. See README.md.
package conform

import (
	"context"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

const pluginName = "conform"

// Conform is the conform plugin.
type Conform struct {
	Next plugin.Handler
}

// ServeDNS implements plugin.Handler.
func (c *Conform) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	cw := newWriter(w, r)
	if rcode, reason := check(r); rcode != dns.RcodeSuccess {
		rejected.WithLabelValues(metrics.WithServer(ctx), reason).Inc()
		return writeError(cw, r, rcode)
	}
	if c.Next == nil {
		// Alone in a block, such as the root block that keeps other
		// names from the server's own, unnormalised REFUSED.
		rejected.WithLabelValues(metrics.WithServer(ctx), reasonNotAuthoritative).Inc()
		return writeError(cw, r, dns.RcodeRefused)
	}
	rcode, err := plugin.NextOrFailure(c.Name(), c.Next, ctx, cw, r)
	if !plugin.ClientWrite(rcode) && !cw.written {
		// The server would write this error itself, echoing the query's
		// EDNS options; write it here, normalised, instead.
		if _, werr := writeError(cw, r, rcode); werr != nil && err == nil {
			err = werr
		}
		return dns.RcodeSuccess, err
	}
	return rcode, err
}

// Name implements plugin.Handler.
func (c *Conform) Name() string { return pluginName }

// writeError replies to r with rcode and nothing else, through w. It
// returns RcodeSuccess, which tells the server that the client has its
// reply: an error rcode would have it write a second one.
func writeError(w dns.ResponseWriter, r *dns.Msg, rcode int) (int, error) {
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	if rcode == dns.RcodeNotImplemented {
		// SetReply keeps the opcode, as RFC 1035 asks of every reply, but
		// answers for the zone only to a QUERY: a NOTIMP says nothing.
		m.Authoritative = false
	}
	return dns.RcodeSuccess, w.WriteMsg(m)
}

// check returns the rcode that r must be refused with, and the reason, or
// RcodeSuccess when r may be answered.
func check(r *dns.Msg) (int, string) {
	if r.Opcode != dns.OpcodeQuery {
		// NOTIFY, UPDATE, and whatever comes later: this server has no
		// secondaries to notify and takes no updates (RFC 1996, RFC 2136
		// both allow NOTIMP).
		return dns.RcodeNotImplemented, reasonOpcode
	}
	if len(r.Question) != 1 {
		// RFC 9619: a query has exactly one question.
		return dns.RcodeFormatError, reasonQuestionCount
	}
	var opt *dns.OPT
	for _, rr := range r.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		if opt != nil {
			// RFC 6891, section 6.1.1.
			return dns.RcodeFormatError, reasonMultipleOPT
		}
		opt = o
	}
	if opt == nil {
		return dns.RcodeSuccess, ""
	}
	if opt.Hdr.Name != "." {
		// RFC 6891, section 6.1.2: the OPT's owner is the root.
		return dns.RcodeFormatError, reasonOPTName
	}
	for _, o := range opt.Option {
		switch o := o.(type) {
		case *dns.EDNS0_SUBNET:
			if !ecsValid(o) {
				return dns.RcodeFormatError, reasonECS
			}
		case *dns.EDNS0_COOKIE:
			if _, _, ok := cookieOf(o); !ok {
				// RFC 7873, section 5.2.2.
				return dns.RcodeFormatError, reasonCookie
			}
		}
	}
	return dns.RcodeSuccess, ""
}

// ecsValid reports whether an EDNS Client Subnet option of a query follows
// RFC 7871, section 6: no address bits set past the source prefix. miekg/dns
// has already refused an unknown family or a prefix longer than the
// address when it parsed the query.
func ecsValid(e *dns.EDNS0_SUBNET) bool {
	var addr []byte
	switch e.Family {
	case 0:
		// dig's +subnet=0: no address at all.
		return e.SourceNetmask == 0
	case 1:
		addr = e.Address.To4()
	case 2:
		addr = e.Address.To16()
	}
	if addr == nil {
		return false
	}
	prefix := int(e.SourceNetmask)
	for i, b := range addr {
		bits := prefix - 8*i
		switch {
		case bits >= 8:
			continue
		case bits <= 0:
			if b != 0 {
				return false
			}
		default:
			if b&(0xFF>>bits) != 0 {
				return false
			}
		}
	}
	return true
}

// reqState is the request as CoreDNS's helpers see it.
func reqState(w dns.ResponseWriter, r *dns.Msg) request.Request {
	return request.Request{W: w, Req: r}
}
