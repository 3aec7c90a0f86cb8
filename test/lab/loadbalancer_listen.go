package lab

// The load balancer's data path: a listener per port of each assigned
// address, answering for the Service's ready endpoints.

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// applyLocked opens and closes the listeners of s so that each TCP port is
// served exactly while the Service has a ready endpoint, its address is up
// and AnnotationListen does not turn listening off. It returns the errors
// of the listeners it could not open.
func (lb *loadBalancer) applyLocked(s *lbService) error {
	serve := !lb.stopped && s.ready && s.listen && !lb.down[s.addr]
	want := map[int32]bool{}
	if serve {
		for _, port := range s.ports {
			want[port] = true
		}
	}

	for port := range s.listeners {
		if want[port] {
			continue
		}
		lb.closeLocked(s, port, lb.closeReasonLocked(s))
	}

	var errs []error
	for _, port := range s.ports {
		if !want[port] || s.listeners[port] != nil {
			continue
		}
		srv, err := lb.listen(s, port)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.listeners[port] = srv
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

// closeLocked closes the listener on port of s. Close, unlike Shutdown, also
// drops keep-alive connections, so a client sees the outage on its next
// request and not only on its next connection.
func (lb *loadBalancer) closeLocked(s *lbService, port int32, reason string) {
	_ = s.listeners[port].Close()
	delete(s.listeners, port)
	lb.logf("closed %s for %s/%s (%s)", netip.AddrPortFrom(s.addr, uint16(port)), s.namespace, s.name, reason)
}

// listen opens a listener on port of s and serves HTTP on it.
func (lb *loadBalancer) listen(s *lbService, port int32) (*http.Server, error) {
	addr := netip.AddrPortFrom(s.addr, uint16(port))
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
	lb.logf("listening on %s for %s/%s", addr, s.namespace, s.name)
	return srv, nil
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
		delay := lb.delayLocked(s.addr, r.RemoteAddr)
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

// readyEndpointPods returns the sorted names of the pods behind the ready
// endpoints of a Service, and whether it has any ready endpoint at all.
func (lb *loadBalancer) readyEndpointPods(namespace, name string) ([]string, bool) {
	selector := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	// A lister reads only its local cache and cannot fail.
	list, _ := lb.slices.EndpointSlices(namespace).List(selector)

	ready := false
	var pods []string
	for _, slice := range list {
		for _, ep := range slice.Endpoints {
			// An unset condition means ready, as the EndpointSlice API says.
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			ready = true
			if ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				pods = append(pods, ep.TargetRef.Name)
			}
		}
	}
	slices.Sort(pods)
	return slices.Compact(pods), ready
}
