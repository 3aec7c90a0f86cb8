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

// recordJSON is a record in a snapshot: the fields of a Service's JSON
// that it keeps, under the same names, so that a snapshot reads as
// Services, and one written when the cache kept corev1.Services reads as
// records. It is marshalled directly: at 50,000 Services, going through
// corev1.Service made every snapshot tens of megabytes of garbage.
type recordJSON struct {
	Metadata struct {
		Name        string            `json:"name,omitempty"`
		Namespace   string            `json:"namespace,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Ports       []portJSON         `json:"ports,omitempty"`
		Type        corev1.ServiceType `json:"type,omitempty"`
		ExternalIPs []string           `json:"externalIPs,omitempty"`
	} `json:"spec"`
	Status struct {
		LoadBalancer struct {
			Ingress []ingressJSON `json:"ingress,omitempty"`
		} `json:"loadBalancer"`
	} `json:"status"`
}

// portJSON and ingressJSON are a Service port and a load-balancer ingress
// point as a snapshot keeps them.
type portJSON struct {
	Name     string          `json:"name,omitempty"`
	Protocol corev1.Protocol `json:"protocol,omitempty"`
	Port     int32           `json:"port"`
}

type ingressJSON struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

// MarshalJSON writes the record as the Service it stands for.
func (r *serviceRecord) MarshalJSON() ([]byte, error) {
	var j recordJSON
	j.Metadata.Name, j.Metadata.Namespace, j.Metadata.Annotations = r.name, r.namespace, r.annotations
	j.Spec.Type, j.Spec.ExternalIPs = r.serviceType, r.externalIPs
	for _, p := range r.ports {
		j.Spec.Ports = append(j.Spec.Ports, portJSON{p.name, p.protocol, p.port})
	}
	for _, in := range r.ingress {
		j.Status.LoadBalancer.Ingress = append(j.Status.LoadBalancer.Ingress, ingressJSON{in.ip, in.hostname})
	}
	return json.Marshal(&j)
}

// UnmarshalJSON reads a Service, as a snapshot keeps it, into a record.
func (r *serviceRecord) UnmarshalJSON(b []byte) error {
	var j recordJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = serviceRecord{namespace: j.Metadata.Namespace, name: j.Metadata.Name, serviceType: j.Spec.Type, externalIPs: j.Spec.ExternalIPs}
	for k, v := range j.Metadata.Annotations {
		if isKfedKey(k) {
			if r.annotations == nil {
				r.annotations = map[string]string{}
			}
			r.annotations[k] = v
		}
	}
	for _, p := range j.Spec.Ports {
		r.ports = append(r.ports, recordPort{name: p.Name, protocol: p.Protocol, port: p.Port})
	}
	for _, in := range j.Status.LoadBalancer.Ingress {
		r.ingress = append(r.ingress, recordIngress{ip: in.IP, hostname: in.Hostname})
	}
	return nil
}

// key is the record's namespace/name.
func (r *serviceRecord) key() string { return r.namespace + "/" + r.name }

func isKfedKey(k string) bool { return strings.HasPrefix(k, "kfed.dev/") && len(k) > len("kfed.dev/") }
