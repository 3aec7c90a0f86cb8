package lab

import (
	"net"
	"net/netip"
	"time"
)

// udpSession is the state of one UDP client of a forwarded port: the
// socket connected to the endpoint its datagrams go to.
type udpSession struct {
	client netip.AddrPort
	target netip.AddrPort
	conn   *net.UDPConn
	// lastUsed is when a datagram last went either way.
	lastUsed time.Time
}

// udpSessions is a bounded table of sessions by client address. It holds no
// lock and does no I/O: its owner does both, and closes what it removes.
type udpSessions struct {
	max  int
	idle time.Duration
	m    map[netip.AddrPort]*udpSession
}

func newUDPSessions(maxSessions int, idle time.Duration) *udpSessions {
	return &udpSessions{max: maxSessions, idle: idle, m: map[netip.AddrPort]*udpSession{}}
}

// get returns the session of client, or nil, and marks it used at now.
func (t *udpSessions) get(client netip.AddrPort, now time.Time) *udpSession {
	s := t.m[client]
	if s != nil {
		s.lastUsed = now
	}
	return s
}

// touch marks s used at now, if it is still in the table.
func (t *udpSessions) touch(s *udpSession, now time.Time) {
	if t.m[s.client] == s {
		s.lastUsed = now
	}
}

// add puts s in the table, used at now. When the table is full it makes
// room by removing the least recently used session, which it returns.
func (t *udpSessions) add(s *udpSession, now time.Time) (evicted *udpSession) {
	s.lastUsed = now
	if _, ok := t.m[s.client]; !ok && len(t.m) >= t.max {
		for _, o := range t.m {
			if evicted == nil || o.lastUsed.Before(evicted.lastUsed) {
				evicted = o
			}
		}
		delete(t.m, evicted.client)
	}
	t.m[s.client] = s
	return evicted
}

// remove takes s out of the table, if it is still there.
func (t *udpSessions) remove(s *udpSession) {
	if t.m[s.client] == s {
		delete(t.m, s.client)
	}
}

// expire removes and returns the sessions unused for longer than the idle
// timeout at now.
func (t *udpSessions) expire(now time.Time) []*udpSession {
	var out []*udpSession
	for client, s := range t.m {
		if now.Sub(s.lastUsed) > t.idle {
			delete(t.m, client)
			out = append(out, s)
		}
	}
	return out
}

// all removes and returns every session.
func (t *udpSessions) all() []*udpSession {
	var out []*udpSession
	for client, s := range t.m {
		delete(t.m, client)
		out = append(out, s)
	}
	return out
}
