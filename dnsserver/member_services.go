package dnsserver

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A member's Services are cached as serviceRecord values, not as Services:
// even trimmed, a corev1.Service is over a kilobyte of mostly empty
// fields, and at 20 members of 2,500 Services that was half of
// coredns-fed's heap. A record keeps what served, memberService and
// probeFor read, in a fifth of the room.

// serviceRecord is what the cache keeps of a Service.
type serviceRecord struct {
	namespace, name string
	serviceType     corev1.ServiceType
	// annotations are the kfed.dev/ ones alone; nil without any.
	annotations map[string]string
	ports       []recordPort
	// ingress is status.loadBalancer.ingress; externalIPs spec.externalIPs.
	ingress     []recordIngress
	externalIPs []string
}

// recordPort is what a record keeps of a Service port.
type recordPort struct {
	name     string
	protocol corev1.Protocol
	port     int32
}

// recordIngress is what a record keeps of a load-balancer ingress point.
type recordIngress struct {
	ip, hostname string
}

// GetObjectMeta makes a record something the informer's key function can
// name (metav1.ObjectMetaAccessor).
func (r *serviceRecord) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{Namespace: r.namespace, Name: r.name}
}

// recordOf is the transform of Services.
func recordOf(o *corev1.Service) *serviceRecord {
	r := &serviceRecord{
		namespace:   o.Namespace,
		name:        o.Name,
		serviceType: o.Spec.Type,
		externalIPs: o.Spec.ExternalIPs,
	}
	for k, v := range o.Annotations {
		if isKfedKey(k) {
			if r.annotations == nil {
				r.annotations = map[string]string{}
			}
			r.annotations[k] = v
		}
	}
	if len(o.Spec.Ports) > 0 {
		r.ports = make([]recordPort, len(o.Spec.Ports))
		for i, p := range o.Spec.Ports {
			r.ports[i] = recordPort{name: p.Name, protocol: p.Protocol, port: p.Port}
		}
	}
	if ing := o.Status.LoadBalancer.Ingress; len(ing) > 0 {
		r.ingress = make([]recordIngress, len(ing))
		for i, in := range ing {
			r.ingress[i] = recordIngress{ip: in.IP, hostname: in.Hostname}
		}
	}
	return r
}

// service returns the record as a Service with only its fields set: the
// form snapshots keep, so that a snapshot written before records existed
// still reads, and one written now reads in an older coredns-fed.
func (r *serviceRecord) service() *corev1.Service {
	out := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.namespace, Name: r.name, Annotations: r.annotations},
		Spec:       corev1.ServiceSpec{Type: r.serviceType, ExternalIPs: r.externalIPs},
	}
	for _, p := range r.ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.name, Protocol: p.protocol, Port: p.port})
	}
	for _, in := range r.ingress {
		out.Status.LoadBalancer.Ingress = append(out.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: in.ip, Hostname: in.hostname})
	}
	return out
}

// MarshalJSON writes the record as the Service it stands for.
func (r *serviceRecord) MarshalJSON() ([]byte, error) { return json.Marshal(r.service()) }

// UnmarshalJSON reads a Service into a record.
func (r *serviceRecord) UnmarshalJSON(b []byte) error {
	var svc corev1.Service
	if err := json.Unmarshal(b, &svc); err != nil {
		return err
	}
	*r = *recordOf(&svc)
	return nil
}

// key is the record's namespace/name.
func (r *serviceRecord) key() string { return r.namespace + "/" + r.name }

func isKfedKey(k string) bool { return strings.HasPrefix(k, "kfed.dev/") && len(k) > len("kfed.dev/") }
