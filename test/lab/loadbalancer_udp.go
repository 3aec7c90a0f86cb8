package lab

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

const (
	// udpSessionIdle is how long a UDP session lives without a datagram
	// either way.
	udpSessionIdle = 30 * time.Second
	// udpMaxSessions bounds the sessions of one port; beyond it the least
	// recently used session makes room.
	udpMaxSessions = 4096
	// udpMoveGrace is how long the socket of a session that moved to
	// another endpoint still relays replies: those to datagrams the old
	// endpoint received before it stopped being ready.
	udpMoveGrace = 2 * time.Second
	// udpMaxDatagram is the largest UDP payload.
	udpMaxDatagram = 64 << 10
)

// lbUDPForwarder forwards the UDP datagrams to one load-balancer port to
// the ready endpoints of the Service. Each client address gets a session:
// a socket connected to one endpoint, its datagrams sent there and the
// endpoint's replies sent back from the listening socket, so they come from
// the address the client sent to. A session whose endpoint stops being
// ready moves to another with its next datagram.
type lbUDPForwarder struct {
	lbRoute
	ln   *net.UDPConn
	done chan struct{}

	mu       sync.Mutex
	sessions *udpSessions
	// moved holds the sessions that moved to another endpoint and whose
	// sockets still relay late replies.
	moved  map[*udpSession]bool
	closed bool
}

// newUDPForwarder listens on r.addr and forwards to r.targets.
func newUDPForwarder(r lbRoute) (*lbUDPForwarder, error) {
	ln, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(r.addr))
	if err != nil {
		return nil, err
	}
	f := &lbUDPForwarder{
		lbRoute:  r,
		ln:       ln,
		done:     make(chan struct{}),
		sessions: newUDPSessions(udpMaxSessions, udpSessionIdle),
		moved:    map[*udpSession]bool{},
	}
	r.lb.serving.Go(f.serve)
	r.lb.serving.Go(f.expire)
	return f, nil
}

func (f *lbUDPForwarder) forwards() bool { return true }

// close closes the listening socket and every session: UDP has no
// connection to let finish.
func (f *lbUDPForwarder) close(bool) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	sessions := f.sessions.all()
	for s := range f.moved {
		sessions = append(sessions, s)
	}
	f.mu.Unlock()

	close(f.done)
	_ = f.ln.Close()
	for _, s := range sessions {
		_ = s.conn.Close()
	}
}

// serve reads the clients' datagrams and sends each to its session's
// endpoint, after the delay SetDelay set for the client.
func (f *lbUDPForwarder) serve() {
	buf := make([]byte, udpMaxDatagram)
	for {
		n, client, err := f.ln.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
		s := f.session(client)
		if s == nil {
			// No ready endpoint has the port: dropped, as a lost
			// datagram, which the client retries.
			continue
		}
		if d := f.lb.delay(f.addr.Addr(), client.Addr()); d > 0 {
			datagram := bytes.Clone(buf[:n])
			time.AfterFunc(d, func() { _, _ = s.conn.Write(datagram) })
			continue
		}
		// An error here is a refusal the endpoint sent for an earlier
		// datagram, or a session just closed: the datagram is lost.
		_, _ = s.conn.Write(buf[:n])
	}
}

// session returns the session of client, making one (or moving it to
// another endpoint) if needed. It returns nil when there is no endpoint to
// send to or the forwarder is closed.
func (f *lbUDPForwarder) session(client netip.AddrPort) *udpSession {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	s := f.sessions.get(client, now)
	if s != nil && f.targets.has(s.target) {
		return s
	}
	if s != nil {
		// Its endpoint is no longer ready. The old socket relays the
		// replies still on their way for a while, then closes.
		f.sessions.remove(s)
		f.moved[s] = true
		_ = s.conn.SetReadDeadline(now.Add(udpMoveGrace))
	}
	target, ok := f.targets.pick(nil)
	if !ok {
		return nil
	}
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		f.lb.logf("%s for %s: %v", f.addr, f.service, err)
		return nil
	}
	s = &udpSession{client: client, target: target, conn: conn}
	if evicted := f.sessions.add(s, now); evicted != nil {
		_ = evicted.conn.Close()
	}
	f.lb.serving.Go(func() { f.replies(s) })
	return s
}

// replies sends the datagrams the endpoint of s sends back to the client,
// until the session's socket is closed or its read deadline passes.
func (f *lbUDPForwarder) replies(s *udpSession) {
	defer func() {
		_ = s.conn.Close()
		f.mu.Lock()
		f.sessions.remove(s)
		delete(f.moved, s)
		f.mu.Unlock()
	}()
	buf := make([]byte, udpMaxDatagram)
	for {
		n, err := s.conn.Read(buf)
		if errors.Is(err, syscall.ECONNREFUSED) {
			// The endpoint refused an earlier datagram; later ones
			// may still be answered.
			continue
		}
		if err != nil {
			return
		}
		f.mu.Lock()
		f.sessions.touch(s, time.Now())
		f.mu.Unlock()
		_, _ = f.ln.WriteToUDPAddrPort(buf[:n], s.client)
	}
}

// expire closes idle sessions until the forwarder is closed.
func (f *lbUDPForwarder) expire() {
	tick := time.NewTicker(udpSessionIdle / 3)
	defer tick.Stop()
	for {
		select {
		case <-f.done:
			return
		case now := <-tick.C:
			f.mu.Lock()
			idle := f.sessions.expire(now)
			f.mu.Unlock()
			for _, s := range idle {
				_ = s.conn.Close()
			}
		}
	}
}
