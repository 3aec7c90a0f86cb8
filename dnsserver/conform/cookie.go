package conform

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"net"
	"time"

	"github.com/dchest/siphash"
	"github.com/miekg/dns"
)

// DNS Cookies (RFC 7873) with interoperable server cookies (RFC 9018): a
// client that sends a cookie gets back its own and a server cookie, a
// SipHash-2-4 of the client cookie, the time and the client's address
// under a secret of this process. Coming back with it shows the client
// saw an earlier reply from this server, which an off-path spoofer cannot.
// The server cookie is checked, and a fresh one given when it is missing,
// stale or wrong; no query is refused for it (BADCOOKIE is for servers
// under attack, RFC 7873 section 5.2.3).

const (
	clientCookieLen = 8
	serverCookieLen = 16
	maxCookieLen    = 40
	cookieVersion   = 1
	// A server cookie is renewed after half an hour (RFC 9018, section
	// 4.3, asks for a new one after that), and one from up to five
	// minutes in the future is taken, for clock skew.
	cookieRenew = 30 * time.Minute
	cookieSkew  = 5 * time.Minute
)

// cookieSecret is the key of the server cookies, made once per process so
// that a reload does not turn every client's cookie stale.
var cookieSecret = func() [16]byte {
	var k [16]byte
	if _, err := rand.Read(k[:]); err != nil {
		panic("conform: no randomness for the DNS cookie secret: " + err.Error())
	}
	return k
}()

// now is the clock of the cookies; tests set it.
var now = time.Now

// cookieOf returns the query's COOKIE option, decoded: the client cookie
// and the server cookie (empty when there is none). ok is false when the
// option is malformed, which RFC 7873, section 5.2.2, answers FORMERR.
func cookieOf(o *dns.EDNS0_COOKIE) (client, server []byte, ok bool) {
	b, err := hex.DecodeString(o.Cookie)
	if err != nil {
		return nil, nil, false
	}
	switch n := len(b); {
	case n == clientCookieLen:
		return b, nil, true
	case n >= clientCookieLen+8 && n <= maxCookieLen:
		return b[:clientCookieLen], b[clientCookieLen:], true
	}
	return nil, nil, false
}

// serverCookie returns the server cookie for a client cookie and address:
// the one the client sent, if this process made it for that client less
// than cookieRenew ago, or a new one. Nothing here refuses a query
// for its cookie.
func serverCookie(client, sent []byte, ip net.IP) []byte {
	t := now()
	if len(sent) == serverCookieLen && sent[0] == cookieVersion {
		issued := time.Unix(int64(binary.BigEndian.Uint32(sent[4:8])), 0)
		age := t.Sub(issued)
		if age < cookieRenew && age > -cookieSkew && subtle.ConstantTimeCompare(sent[8:], cookieHash(client, sent[:8], ip)) == 1 {
			return sent
		}
	}
	c := make([]byte, 8, serverCookieLen)
	c[0] = cookieVersion
	binary.BigEndian.PutUint32(c[4:8], uint32(t.Unix()))
	return append(c, cookieHash(client, c, ip)...)
}

// cookieHash is RFC 9018's Hash: SipHash-2-4 over the client cookie, the
// version, reserved and timestamp fields, and the client's address.
func cookieHash(client, head []byte, ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	msg := make([]byte, 0, len(client)+len(head)+len(ip))
	msg = append(append(append(msg, client...), head...), ip...)
	h := siphash.New(cookieSecret[:])
	h.Write(msg)
	return h.Sum(nil)
}
