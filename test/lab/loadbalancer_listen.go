package lab

// The load balancer's listeners: one per port of each assigned address,
// forwarding to the Service's ready endpoints on real nodes
// (loadbalancer_tcp.go, loadbalancer_udp.go) or answering for them itself.

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// lbListener serves one port of a load-balancer address: the load
// balancer's own HTTP answer, or a forwarder to the Service's endpoints.
type lbListener interface {
	// forwards reports whether it forwards to endpoints.
	forwards() bool
	// close stops listening. With drop it also cuts the connections in
	// flight; without, forwarded TCP connections are left to finish.
	close(drop bool)
}

// lbRoute is what a forwarder of one port works with: the load balancer,
// the Service ("namespace/name", for logs), the address it listens on and
// the endpoints it forwards to.
type lbRoute struct {
	lb      *loadBalancer
	service string
	addr    netip.AddrPort
	targets *lbTargets
}

// httpListener is the load balancer's own HTTP answer on a TCP port.
type httpListener struct{ srv *http.Server }

func (httpListener) forwards() bool { return false }

// close closes the server whatever drop says: Close, unlike Shutdown, also
// drops keep-alive connections, so a client sees the outage on its next
// request and not only on its next connection.
func (h httpListener) close(bool) { _ = h.srv.Close() }

// applyLocked opens and closes the listeners of s so that each port is
// served exactly while the Service has a ready endpoint, its address is up
// and AnnotationListen does not turn listening off. A Service with ready
// endpoints on real nodes gets forwarders on its TCP and UDP ports; one
// without gets the HTTP answer on its TCP ports. It returns the errors of
// the listeners it could not open.
func (lb *loadBalancer) applyLocked(s *lbService) error {
	serve := !lb.stopped && s.ready && s.listen && !lb.down[s.addr]
	want := map[lbPort]bool{}
	if serve {
		for _, p := range s.ports {
			if s.forward || p.protocol == v1.ProtocolTCP {
				want[p.lbPort] = true
			}
		}
	}

	for port, l := range s.listeners {
		switch {
		case !want[port]:
			reason := lb.closeReasonLocked(s)
			// Connections to endpoints that stopped being ready may
			// finish; an outage or a stop cuts them.
			lb.closeLocked(s, port, reason, s.ready)
		case l.forwards() != s.forward:
			lb.closeLocked(s, port, "ready endpoints moved between real and kwok nodes", true)
		}
	}

	var errs []error
	for _, p := range s.ports {
		if !want[p.lbPort] || s.listeners[p.lbPort] != nil {
			continue
		}
		l, err := lb.listen(s, p.lbPort)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.listeners[p.lbPort] = l
		lb.logf("listening on %s %s for %s/%s (%s)", p.protocol, netip.AddrPortFrom(s.addr, uint16(p.port)),
			s.namespace, s.name, map[bool]string{true: "forwarding", false: "answering"}[l.forwards()])
	}
	return errors.Join(errs...)
}

func (lb *loadBalancer) closeReasonLocked(s *lbService) string {
	switch {
	case lb.stopped:
		return "stopping"
	case lb.down[s.addr]:
		return "address down"
	case !s.ready:
		return "no ready endpoints"
	case !s.listen:
		return AnnotationListen + " is false"
	default:
		return "port removed"
	}
}

// closeLocked closes the listener on port of s; drop is as for
// lbListener.close.
func (lb *loadBalancer) closeLocked(s *lbService, port lbPort, reason string, drop bool) {
	s.listeners[port].close(drop)
	delete(s.listeners, port)
	lb.logf("closed %s %s for %s/%s (%s)", port.protocol, netip.AddrPortFrom(s.addr, uint16(port.port)), s.namespace, s.name, reason)
}

// listen opens what serves port of s.
func (lb *loadBalancer) listen(s *lbService, port lbPort) (lbListener, error) {
	addr := netip.AddrPortFrom(s.addr, uint16(port.port))
	route := lbRoute{lb: lb, service: s.namespace + "/" + s.name, addr: addr, targets: s.targets[port]}
	switch {
	case s.forward && port.protocol == v1.ProtocolUDP:
		return newUDPForwarder(route)
	case s.forward:
		return newTCPProxy(route)
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		// The caller logs the error and retries, since a busy port may
		// be freed later.
		return nil, err
	}
	srv := &http.Server{
		Handler:           lb.handler(s),
		ReadHeaderTimeout: lbReadHeaderTimeout,
		ErrorLog:          log.New(lb.log, "loadbalancer "+lb.cluster+": ", 0),
	}
	lb.serving.Go(func() {
		// Serve returns http.ErrServerClosed once the server is closed,
		// which is the only way these servers stop.
		_ = srv.Serve(ln)
	})
	return httpListener{srv}, nil
}

// handler answers every request with the cluster, the Service and one of its
// ready pods, taking the pods in turn.
func (lb *loadBalancer) handler(s *lbService) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lb.mu.Lock()
		var pod string
		if len(s.pods) > 0 {
			pod = s.pods[s.next%len(s.pods)]
			s.next = (s.next + 1) % len(s.pods)
		}
		var from netip.Addr
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			from = ap.Addr()
		}
		delay := lb.delayLocked(s.addr, from)
		lb.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}

		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set(lbClusterHeader, lb.cluster)
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, responseBody(lb.cluster, s.namespace, s.name, pod))
	})
}

// responseBody is the text the load balancer answers every request with.
func responseBody(cluster, namespace, service, pod string) string {
	return fmt.Sprintf("cluster: %s\nnamespace: %s\nservice: %s\npod: %s\n", cluster, namespace, service, pod)
}

// readyEndpoints reads the ready endpoints of a Service from the informer
// cache.
func (lb *loadBalancer) readyEndpoints(namespace, name string, ports []servicePort) readyEndpoints {
	selector := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	// A lister reads only its local cache and cannot fail.
	list, _ := lb.slices.EndpointSlices(namespace).List(selector)
	return summarizeEndpoints(list, ports, lb.realNodes)
}

// setEndpointsLocked records the ready endpoints of s and hands each port's
// forwarder its new targets, so that a change reaches new connections at
// once, whether or not listeners open or close.
func (lb *loadBalancer) setEndpointsLocked(s *lbService, r readyEndpoints) {
	s.pods, s.ready, s.forward = r.pods, r.any, r.real
	for _, p := range s.ports {
		t := s.targets[p.lbPort]
		if t == nil {
			t = &lbTargets{}
			s.targets[p.lbPort] = t
		}
		t.set(r.targets[p.lbPort])
	}
}
