package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// lbDialTimeout bounds a dial to one endpoint. A pod that went away leaves
// its address unanswered on the bridge; the next endpoint is tried then.
const lbDialTimeout = time.Second

// lbTCPProxy forwards the TCP connections to one load-balancer port to the
// ready endpoints of the Service, in turn.
type lbTCPProxy struct {
	lbRoute
	ln net.Listener
	// ctx ends when the proxy's connections are to be cut.
	ctx  context.Context
	drop context.CancelFunc
}

// newTCPProxy listens on r.addr and forwards to r.targets.
func newTCPProxy(r lbRoute) (*lbTCPProxy, error) {
	ln, err := net.Listen("tcp", r.addr.String())
	if err != nil {
		return nil, err
	}
	ctx, drop := context.WithCancel(r.lb.connCtx)
	p := &lbTCPProxy{lbRoute: r, ln: ln, ctx: ctx, drop: drop}
	r.lb.serving.Go(p.serve)
	return p, nil
}

func (p *lbTCPProxy) forwards() bool { return true }

func (p *lbTCPProxy) close(drop bool) {
	_ = p.ln.Close()
	if drop {
		p.drop()
	}
}

func (p *lbTCPProxy) serve() {
	for {
		conn, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors, say: wait rather than spin.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		p.lb.serving.Go(func() { p.forward(conn) })
	}
}

// forward relays one client connection to an endpoint, after the delay
// SetDelay set for the client.
func (p *lbTCPProxy) forward(in net.Conn) {
	defer in.Close()
	// The context's end cuts the connection wherever it is.
	stop := context.AfterFunc(p.ctx, func() { in.Close() })
	defer stop()

	if d := p.lb.delay(p.addr.Addr(), addrOf(in.RemoteAddr())); d > 0 {
		select {
		case <-time.After(d):
		case <-p.ctx.Done():
			return
		}
	}
	out, err := p.dial()
	if err != nil {
		p.lb.logf("%s for %s: %v; closing the client's connection", p.addr, p.service, err)
		return
	}
	defer out.Close()
	stopOut := context.AfterFunc(p.ctx, func() { out.Close() })
	defer stopOut()
	relayTCP(in, out)
}

// dial connects to the next endpoint in turn, trying the others when it
// fails.
func (p *lbTCPProxy) dial() (net.Conn, error) {
	var tried []netip.AddrPort
	var errs []error
	for {
		target, ok := p.targets.pick(tried)
		if !ok {
			break
		}
		tried = append(tried, target)
		ctx, cancel := context.WithTimeout(p.ctx, lbDialTimeout)
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", target.String())
		cancel()
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(tried) == 0 {
		return nil, errors.New("no ready endpoint on a real node has this port")
	}
	return nil, fmt.Errorf("no endpoint accepted the connection: %w", errors.Join(errs...))
}

// addrOf returns the IP address of a TCP or UDP address, or the zero Addr.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}
