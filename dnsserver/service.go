package dnsserver

import (
	"net/netip"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Annotations on a member's Service that the plugin reads.
const (
	// AnnotationDNS opts a Service in ("true") or out ("false"). Without
	// it, Services of type LoadBalancer are served and others are not.
	AnnotationDNS = v1alpha1.GroupName + "/dns"
	// AnnotationHealthCheckPath makes the probe an HTTP GET of this path;
	// without it the probe is a TCP connect.
	AnnotationHealthCheckPath = v1alpha1.GroupName + "/health-check-path"
	// AnnotationHealthCheckScheme is http (the default) or https.
	AnnotationHealthCheckScheme = v1alpha1.GroupName + "/health-check-scheme"
	// AnnotationHealthCheckPort names the Service port to probe, by name
	// or number; without it the first TCP port is probed.
	AnnotationHealthCheckPort = v1alpha1.GroupName + "/health-check-port"
)

// served reports whether a Service is answered for.
func served(svc *serviceRecord) bool {
	switch strings.ToLower(svc.annotations[AnnotationDNS]) {
	case "true":
		return true
	case "false":
		return false
	}
	return svc.serviceType == corev1.ServiceTypeLoadBalancer
}

// memberService returns what the index needs of a served Service: its named
// ports and its entry points, not yet judged healthy.
//
// Entry points are the addresses the member's load balancer assigned, in
// status.loadBalancer.ingress, which only the member's controllers may
// write. spec.externalIPs, which anyone allowed to edit the Service may set
// to any address, count only with externalIPs set (the Corefile's
// external_ips): otherwise a Service could have coredns-fed probe, and
// publish in the zone, any address it can reach.
func memberService(svc *serviceRecord, externalIPs bool) MemberService {
	ms := MemberService{Namespace: svc.namespace, Name: svc.name, Selection: selectionOf(svc.annotations)}
	for _, p := range svc.ports {
		if p.name == "" || p.port <= 0 || p.port > 65535 {
			continue
		}
		ms.Ports = append(ms.Ports, Port{
			Name:     strings.ToLower(p.name),
			Protocol: strings.ToLower(string(protocolOf(p))),
			Port:     uint16(p.port),
		})
	}
	seen := map[string]bool{}
	add := func(ep EntryPoint) {
		key := ep.Hostname
		if ep.Addr.IsValid() {
			key = ep.Addr.String()
		}
		if key == "" || seen[key] {
			return
		}
		seen[key] = true
		ms.EntryPoints = append(ms.EntryPoints, ep)
	}
	for _, ing := range svc.ingress {
		if a, err := netip.ParseAddr(ing.ip); err == nil {
			add(EntryPoint{Addr: a.Unmap()})
		} else if h := hostname(ing.hostname); h != "" {
			add(EntryPoint{Hostname: h})
		}
	}
	if !externalIPs {
		return ms
	}
	for _, ip := range svc.externalIPs {
		if a, err := netip.ParseAddr(ip); err == nil {
			add(EntryPoint{Addr: a.Unmap()})
		}
	}
	return ms
}

func protocolOf(p recordPort) corev1.Protocol {
	if p.protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.protocol
}

// hostname returns h as an absolute lower-case name, or "" if it is not a
// usable host name.
func hostname(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if h == "" || len(h) > 253 {
		return ""
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return ""
		}
	}
	return h + "."
}

// probeFor returns how to probe an entry point of a Service in a member;
// ok is false when the Service has no TCP port, and its entry points are
// then judged by readiness alone.
func probeFor(cluster string, svc *serviceRecord, ep EntryPoint) (probeTarget, bool) {
	port, ok := probePort(svc)
	if !ok {
		return probeTarget{}, false
	}
	t := probeTarget{Cluster: cluster, probeEndpoint: probeEndpoint{Type: probeTCP, Port: port, Host: strings.TrimSuffix(ep.Hostname, ".")}}
	if ep.Addr.IsValid() {
		t.Host = ep.Addr.String()
	}
	path, hasPath := svc.annotations[AnnotationHealthCheckPath]
	scheme := strings.ToLower(svc.annotations[AnnotationHealthCheckScheme])
	if hasPath || scheme == probeHTTP || scheme == probeHTTPS {
		t.Type = probeHTTP
		if scheme == probeHTTPS {
			t.Type = probeHTTPS
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		t.Path = path
	}
	return t, true
}

// probePort returns the Service port to probe: the one the annotation
// names, or the first TCP port.
func probePort(svc *serviceRecord) (uint16, bool) {
	want := svc.annotations[AnnotationHealthCheckPort]
	for _, p := range svc.ports {
		if protocolOf(p) != corev1.ProtocolTCP || p.port <= 0 || p.port > 65535 {
			continue
		}
		if want == "" || want == p.name || want == strconv.Itoa(int(p.port)) {
			return uint16(p.port), true
		}
	}
	return 0, false
}

// readyEndpoints counts the ready endpoints in a Service's EndpointSlices.
func readyEndpoints(slices []any) int {
	n := 0
	for _, obj := range slices {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			// A nil Ready means ready (see EndpointConditions).
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}
