package dnsserver

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

func TestServed(t *testing.T) {
	lb := corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}
	cip := corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}
	for _, tc := range []struct {
		spec       corev1.ServiceSpec
		annotation string
		want       bool
	}{
		{lb, "", true},
		{lb, "false", false},
		{lb, "False", false},
		{cip, "", false},
		{cip, "true", true},
		{cip, "maybe", false},
	} {
		svc := &corev1.Service{Spec: tc.spec}
		if tc.annotation != "" {
			svc.Annotations = map[string]string{AnnotationDNS: tc.annotation}
		}
		if got := served(recordOf(svc)); got != tc.want {
			t.Errorf("%s with %s=%q: served %v, want %v", tc.spec.Type, AnnotationDNS, tc.annotation, got, tc.want)
		}
	}
}

func TestMemberService(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "Web"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{
				{Name: "HTTP", Port: 80},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Port: 9000}, // unnamed: no SRV
			},
			ExternalIPs: []string{"192.0.2.7", "192.0.2.1", "not-an-ip"},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
			{IP: "192.0.2.1"},
			{IP: "2001:db8::1"},
			{Hostname: "LB.Example.NET"},
			{Hostname: "bad..name"},
		}}},
	}
	want := MemberService{
		Namespace: "shop", Name: "Web",
		Ports: []Port{{Name: "http", Protocol: "tcp", Port: 80}, {Name: "dns", Protocol: "udp", Port: 53}},
		EntryPoints: []EntryPoint{
			{Addr: netip.MustParseAddr("192.0.2.1")},
			{Addr: netip.MustParseAddr("2001:db8::1")},
			{Hostname: "lb.example.net."},
		},
	}
	// Without external_ips, only what the load balancer assigned counts.
	if got := memberService(recordOf(svc), false); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	want.EntryPoints = append(want.EntryPoints, EntryPoint{Addr: netip.MustParseAddr("192.0.2.7")})
	if got := memberService(recordOf(svc), true); !reflect.DeepEqual(got, want) {
		t.Errorf("with external_ips: got  %+v\nwant %+v", got, want)
	}
}

func TestProbeFor(t *testing.T) {
	ep := EntryPoint{Addr: netip.MustParseAddr("127.0.0.9")}
	ports := []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "http", Port: 8080}, {Name: "admin", Port: 9090}}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		ports       []corev1.ServicePort
		ep          EntryPoint
		want        probeTarget
		ok          bool
	}{
		{"first TCP port", nil, ports, ep, probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeTCP, Host: "127.0.0.9", Port: 8080}}, true},
		{"port by name", map[string]string{AnnotationHealthCheckPort: "admin"}, ports, ep, probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeTCP, Host: "127.0.0.9", Port: 9090}}, true},
		{"port by number", map[string]string{AnnotationHealthCheckPort: "9090"}, ports, ep, probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeTCP, Host: "127.0.0.9", Port: 9090}}, true},
		{"HTTP path", map[string]string{AnnotationHealthCheckPath: "healthz"}, ports, ep, probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeHTTP, Host: "127.0.0.9", Port: 8080, Path: "/healthz"}}, true},
		{"HTTPS", map[string]string{AnnotationHealthCheckPath: "/ready", AnnotationHealthCheckScheme: "HTTPS"}, ports, ep, probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeHTTPS, Host: "127.0.0.9", Port: 8080, Path: "/ready"}}, true},
		{"host name", nil, ports, EntryPoint{Hostname: "lb.example.net."}, probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeTCP, Host: "lb.example.net", Port: 8080}}, true},
		{"UDP only", nil, ports[:1], ep, probeTarget{}, false},
		{"unknown port", map[string]string{AnnotationHealthCheckPort: "nope"}, ports, ep, probeTarget{}, false},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: tc.annotations}, Spec: corev1.ServiceSpec{Ports: tc.ports}}
		got, ok := probeFor("usa", recordOf(svc), tc.ep)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReadyEndpoints(t *testing.T) {
	slices := []any{
		&discoveryv1.EndpointSlice{Endpoints: []discoveryv1.Endpoint{
			{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Terminating: ptr.To(true)}},
			{}, // nil Ready means ready
		}},
		&discoveryv1.EndpointSlice{Endpoints: []discoveryv1.Endpoint{
			{Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		}},
	}
	if got := readyEndpoints(slices); got != 2 {
		t.Errorf("ready endpoints %d, want 2", got)
	}
}

func TestTrim(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "shop",
			Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}", AnnotationHealthCheckPath: "/"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		},
	}
	obj, _ := trim(svc)
	got := obj.(*serviceRecord)
	if len(got.annotations) != 1 || got.annotations[AnnotationHealthCheckPath] != "/" {
		t.Errorf("the record of a Service keeps the annotations %v", got.annotations)
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err != nil || key != "shop/web" {
		t.Errorf("record of a Service: key %q, %v", key, err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-1", Labels: map[string]string{discoveryv1.LabelServiceName: "web", "other": "x"}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
		},
	}
	obj, _ = trim(slice)
	if keys, _ := sliceService(obj); len(keys) != 1 || keys[0] != "shop/web" || !anyReady([]any{obj}) {
		t.Errorf("summary of an EndpointSlice: %+v", obj)
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err != nil || key != "shop/web-1" {
		t.Errorf("summary of an EndpointSlice: key %q, %v", key, err)
	}
	slice.Endpoints = slice.Endpoints[:1]
	obj, _ = trim(slice)
	if anyReady([]any{obj}) {
		t.Error("a slice with no ready endpoint is ready once summarized")
	}
	// What answers read of a Service survives.
	full := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.10", ExternalIPs: []string{"192.0.2.1"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, NodePort: 30080}}},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "127.0.0.9", Hostname: "lb.example.net"}}}},
	}
	obj, _ = trim(full)
	if got, want := memberService(obj.(*serviceRecord), true), memberService(recordOf(full), true); !reflect.DeepEqual(got, want) || !served(obj.(*serviceRecord)) {
		t.Errorf("trimmed Service answers %+v, want %+v", got, want)
	}
	// Snapshots keep a record as the Service it stands for, both ways.
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var back serviceRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, obj) {
		t.Errorf("a record read back from %s is %+v, want %+v", b, &back, obj)
	}
	// A snapshot written when the cache kept Services reads as records.
	old, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var fromOld serviceRecord
	if err := json.Unmarshal(old, &fromOld); err != nil || !reflect.DeepEqual(&fromOld, recordOf(full)) {
		t.Errorf("a Service read from %s is the record %+v, want %+v (%v)", old, &fromOld, recordOf(full), err)
	}
	var asService corev1.Service
	if err := json.Unmarshal(b, &asService); err != nil || asService.Name != "web" || asService.Status.LoadBalancer.Ingress[0].IP != "127.0.0.9" {
		t.Errorf("a record is written as %s, not as its Service", b)
	}
}
