package dnsserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coredns/caddy"

	"github.com/kfed-dev/kfed/pkg/explain"
)

// The explain listener is an HTTP server of its own, as the health and
// ready plugins have, never a name in the zone. Like the controllers
// (handover.go), listeners are kept by address across reloads: a new Fed
// that names the address of a running listener attaches to it, and the
// listener answers for the Fed attached last whose zones hold the name, so
// a reload neither closes the port nor leaves a moment without it. The
// listener closes when the last Fed detaches.

// explainShutdown bounds how long requests in flight may take once the
// last Fed detaches.
const explainShutdown = 5 * time.Second

// explainListener is one listening address and the Feds that answer there.
type explainListener struct {
	addr string
	srv  *http.Server
	// feds are the attached Feds, the last attached last, under
	// explainListeners' lock.
	feds []*Fed
}

// explainListeners are the running listeners by address. A failed
// restart detaches its Feds with their controllers' (restartFailed).
var explainListeners = struct {
	sync.Mutex
	byAddr map[string]*explainListener
}{byAddr: map[string]*explainListener{}}

// startExplain attaches f to the listener of its explain address, starting
// the listener if none runs there.
func startExplain(f *Fed) error {
	explainListeners.Lock()
	defer explainListeners.Unlock()
	l := explainListeners.byAddr[f.Explain]
	if l == nil {
		ln, err := net.Listen("tcp", f.Explain)
		if err != nil {
			return fmt.Errorf("explain: %w", err)
		}
		l = &explainListener{addr: f.Explain}
		mux := http.NewServeMux()
		mux.Handle(explain.Path, l)
		l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
		go l.srv.Serve(ln)
		explainListeners.byAddr[f.Explain] = l
		log.Infof("explain: listening on %s", ln.Addr())
	}
	l.feds = append(l.feds, f)
	return nil
}

// stopExplain detaches f from its listener, and closes the listener if f
// was the last attached. A Fed that is not attached is left alone.
func stopExplain(f *Fed) error {
	explainListeners.Lock()
	l := explainListeners.byAddr[f.Explain]
	if l == nil {
		explainListeners.Unlock()
		return nil
	}
	l.feds = slices.DeleteFunc(l.feds, func(g *Fed) bool { return g == f })
	if len(l.feds) > 0 {
		explainListeners.Unlock()
		return nil
	}
	delete(explainListeners.byAddr, f.Explain)
	explainListeners.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), explainShutdown)
	defer cancel()
	return l.srv.Shutdown(ctx)
}

// fedFor returns the Fed attached last whose zones hold qname, or nil.
func (l *explainListener) fedFor(qname string) *Fed {
	explainListeners.Lock()
	defer explainListeners.Unlock()
	for i := len(l.feds) - 1; i >= 0; i-- {
		if l.feds[i].zoneOf(qname) != "" {
			return l.feds[i]
		}
	}
	return nil
}

// setupExplain registers the listener's start and stop, after the
// controller's: a Fed attaches once it has its first index, so that a
// reload keeps the old one answering meanwhile. A failed restart, which
// runs no OnShutdown, detaches it in restartFailed (handover.go).
func setupExplain(c *caddy.Controller, f *Fed) {
	c.OnStartup(func() error { return startExplain(f) })
	c.OnShutdown(func() error { return stopExplain(f) })
}

// parseExplainAddr reads the explain option's address: HOST:PORT or :PORT,
// the host an IP address. An IPv6 address may come without brackets, as
// it does from {$POD_IP}:8055.
func parseExplainAddr(c *caddy.Controller, v string) (string, error) {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		i := strings.LastIndexByte(v, ':')
		if a, perr := netip.ParseAddr(v[:max(i, 0)]); i > 0 && perr == nil && a.Is6() {
			host, port, err = v[:i], v[i+1:], nil
		}
	}
	if err != nil {
		return "", c.Errf("explain %q is not an address such as 127.0.0.1:8055 or :8055", v)
	}
	if n, perr := strconv.Atoi(port); perr != nil || n < 1 || n > 65535 {
		return "", c.Errf("explain %q: the port must be a number from 1 to 65535", v)
	}
	if host != "" {
		a, perr := netip.ParseAddr(host)
		if perr != nil {
			return "", c.Errf("explain %q: the host must be an IP address, or empty for every address", v)
		}
		host = a.Unmap().String()
	}
	return net.JoinHostPort(host, port), nil
}
