// Package conformtest holds what tests of DNS conformance share: a real
// server on loopback, sending a query's bytes as they are, and checking a
// reply's OPT record.
package conformtest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/coredns/coredns/core/dnsserver"
	"github.com/miekg/dns"
)

// ExchangeRaw sends the bytes of a query as they are, over "udp" or "tcp",
// and returns the reply, parsed. No DNS library writes the malformed
// queries that conformance is about, and none sends what it cannot pack.
func ExchangeRaw(proto, addr string, query []byte) (*dns.Msg, error) {
	conn, err := net.DialTimeout(proto, addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return nil, err
	}
	buf := make([]byte, dns.MaxMsgSize)
	n := 0
	if proto == "tcp" {
		if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(query))), query...)); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, buf[:2]); err != nil {
			return nil, fmt.Errorf("no reply over TCP: %w", err)
		}
		n = int(binary.BigEndian.Uint16(buf))
		if _, err := io.ReadFull(conn, buf[:n]); err != nil {
			return nil, err
		}
	} else {
		if _, err := conn.Write(query); err != nil {
			return nil, err
		}
		if n, err = conn.Read(buf); err != nil {
			return nil, fmt.Errorf("no reply over UDP: %w", err)
		}
	}
	m := new(dns.Msg)
	if err := m.Unpack(buf[:n]); err != nil {
		return nil, fmt.Errorf("the reply does not parse: %w", err)
	}
	return m, nil
}

// CheckOPT returns what is wrong with the OPT record of the reply m: it must
// have none when want is false, and otherwise exactly one, of version 0 at
// the root, with DO as do says and no other flag, and only options in
// allowed. A COOKIE must be the client's cookie, client, followed by an RFC
// 9018 server cookie (16 bytes, version 1).
func CheckOPT(m *dns.Msg, want, do bool, client string, allowed ...uint16) []string {
	var problems []string
	n := 0
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			n++
		}
	}
	if !want {
		if n != 0 {
			problems = append(problems, fmt.Sprintf("%d OPT records in a reply to a query without EDNS", n))
		}
		return problems
	}
	if n != 1 {
		return append(problems, fmt.Sprintf("%d OPT records, want 1", n))
	}
	o := m.IsEdns0()
	if o.Version() != 0 || o.Hdr.Name != "." || o.Do() != do || uint16(o.Hdr.Ttl)&0x7FFF != 0 {
		problems = append(problems, fmt.Sprintf("OPT %v: want version 0 at the root, DO %v, no other flag", o, do))
	}
	for _, e := range o.Option {
		if c, ok := e.(*dns.EDNS0_COOKIE); ok {
			if client == "" || len(c.Cookie) != 2*(8+16) || c.Cookie[:16] != client || c.Cookie[16:18] != "01" {
				problems = append(problems, fmt.Sprintf("COOKIE %s: want the client's cookie %q and an RFC 9018 server cookie", c.Cookie, client))
			}
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || e.Option() == a
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("option %d in the reply: an echo of the query", e.Option()))
		}
	}
	return problems
}

// Exchange is ExchangeRaw for a test: it stops the test when there is no
// reply.
func Exchange(tb testing.TB, proto, addr string, query []byte) *dns.Msg {
	tb.Helper()
	m, err := ExchangeRaw(proto, addr, query)
	if err != nil {
		tb.Fatalf("%s: %v", proto, err)
	}
	return m
}

// Serve runs a real CoreDNS server of cfg (a server block with its plugins
// added) on a loopback port, over UDP and TCP on the same port number, so
// that a client retrying over TCP finds it, and returns its address. The
// server stops when the test ends.
func Serve(tb testing.TB, cfg *dnsserver.Config) string {
	tb.Helper()
	s, err := dnsserver.NewServer("dns://127.0.0.1:0", []*dnsserver.Config{cfg})
	if err != nil {
		tb.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		tb.Skipf("TCP port of %s is taken: %v", pc.LocalAddr(), err)
	}
	go s.ServePacket(pc)
	go s.Serve(l)
	tb.Cleanup(func() { s.Stop() })
	return pc.LocalAddr().String()
}
