package lab

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// tcpForwarder relays TCP connections from listening addresses to one
// target. A lab's API server listens on 127.0.0.1 only, which pods cannot
// reach: for a cluster with real nodes the lab forwards, to it, the
// cluster's address on its first node's bridge (the API server's advertise
// address, so the `kubernetes` Endpoints point there) and the `kubernetes`
// Service's ClusterIP on port 443 (the address in-cluster clients dial; the
// lab runs no kube-proxy). Both are addresses of the bridge, so nothing
// outside the machine can reach them. The relay is plain TCP: TLS stays
// between the pod and the API server, whose certificate names both.
type tcpForwarder struct {
	target    string
	listeners []net.Listener
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	closed    bool
}

// newTCPForwarder listens on each address and relays to target.
func newTCPForwarder(target string, addrs ...string) (*tcpForwarder, error) {
	f := &tcpForwarder{target: target, conns: map[net.Conn]struct{}{}}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			f.Close()
			return nil, err
		}
		f.listeners = append(f.listeners, l)
	}
	for _, l := range f.listeners {
		f.wg.Add(1)
		go f.serve(l)
	}
	return f, nil
}

func (f *tcpForwarder) serve(l net.Listener) {
	defer f.wg.Done()
	for {
		in, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.relay(in)
		}()
	}
}

func (f *tcpForwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if add {
		if f.closed {
			return false
		}
		f.conns[c] = struct{}{}
	} else {
		delete(f.conns, c)
	}
	return true
}

func (f *tcpForwarder) relay(in net.Conn) {
	defer in.Close()
	if !f.track(in, true) {
		return
	}
	defer f.track(in, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	out, err := (&net.Dialer{}).DialContext(ctx, "tcp", f.target)
	cancel()
	if err != nil {
		return
	}
	defer out.Close()
	if !f.track(out, true) {
		return
	}
	defer f.track(out, false)
	relayTCP(in, out)
}

// relayTCP copies between a and b both ways until both directions have
// ended. The end of one direction is passed on as a half-close, so that a
// client that shuts down its writing side still reads the whole answer; an
// error in either direction (a reset) cuts both.
func relayTCP(a, b net.Conn) {
	half := func(dst, src net.Conn) {
		if _, err := io.Copy(dst, src); err != nil {
			a.Close()
			b.Close()
			return
		}
		if hc, ok := dst.(interface{ CloseWrite() error }); ok {
			hc.CloseWrite()
		} else {
			dst.Close()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { half(b, a) })
	half(a, b)
	wg.Wait()
}

// Close stops listening, cuts every relayed connection and waits for the
// relays to end.
func (f *tcpForwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	for _, l := range f.listeners {
		l.Close()
	}
	f.wg.Wait()
	return nil
}
