package lab

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestSummarizeEndpoints(t *testing.T) {
	ptr := func(s string) *string { return &s }
	yes, no := true, false
	tcp, udp := v1.ProtocolTCP, v1.ProtocolUDP
	port := func(name string, proto v1.Protocol, n int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: ptr(name), Protocol: &proto, Port: &n}
	}
	ep := func(pod, node, addr string, ready *bool) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{
			Addresses:  []string{addr},
			Conditions: discoveryv1.EndpointConditions{Ready: ready},
			NodeName:   ptr(node),
			TargetRef:  &v1.ObjectReference{Kind: "Pod", Name: pod},
		}
	}
	ports := []servicePort{
		{lbPort{tcp, 80}, "http"},
		{lbPort{udp, 53}, "dns"},
	}
	httpPort, dnsPort := lbPort{tcp, 80}, lbPort{udp, 53}
	realNodes := map[string]bool{"c-real-0": true}
	ap := netip.MustParseAddrPort

	tests := []struct {
		name   string
		slices []*discoveryv1.EndpointSlice
		want   readyEndpoints
	}{
		{
			name: "no slices",
			want: readyEndpoints{targets: map[lbPort][]netip.AddrPort{}},
		},
		{
			name: "kwok endpoints are answered, not forwarded",
			slices: []*discoveryv1.EndpointSlice{{
				Ports:     []discoveryv1.EndpointPort{port("http", tcp, 8080)},
				Endpoints: []discoveryv1.Endpoint{ep("b", "c-0", "10.0.0.2", nil), ep("a", "c-0", "10.0.0.1", &yes)},
			}},
			want: readyEndpoints{any: true, pods: []string{"a", "b"}, targets: map[lbPort][]netip.AddrPort{}},
		},
		{
			name: "real endpoints, ports matched by name and protocol, not-ready skipped",
			slices: []*discoveryv1.EndpointSlice{{
				Ports: []discoveryv1.EndpointPort{port("http", tcp, 8080), port("dns", udp, 8053), port("dns", tcp, 9053)},
				Endpoints: []discoveryv1.Endpoint{
					ep("b", "c-real-0", "10.224.0.3", &yes),
					ep("a", "c-real-0", "10.224.0.2", nil),
					ep("gone", "c-real-0", "10.224.0.4", &no),
				},
			}},
			want: readyEndpoints{any: true, real: true, pods: []string{"a", "b"}, targets: map[lbPort][]netip.AddrPort{
				httpPort: {ap("10.224.0.2:8080"), ap("10.224.0.3:8080")},
				dnsPort:  {ap("10.224.0.2:8053"), ap("10.224.0.3:8053")},
			}},
		},
		{
			name: "mixed nodes: only the real endpoint is a target",
			slices: []*discoveryv1.EndpointSlice{{
				Ports:     []discoveryv1.EndpointPort{port("http", tcp, 8080)},
				Endpoints: []discoveryv1.Endpoint{ep("k", "c-0", "10.0.0.1", nil), ep("r", "c-real-0", "10.224.0.2", nil)},
			}},
			want: readyEndpoints{any: true, real: true, pods: []string{"k", "r"}, targets: map[lbPort][]netip.AddrPort{
				httpPort: {ap("10.224.0.2:8080")},
			}},
		},
		{
			name: "only not-ready endpoints",
			slices: []*discoveryv1.EndpointSlice{{
				Ports:     []discoveryv1.EndpointPort{port("http", tcp, 8080)},
				Endpoints: []discoveryv1.Endpoint{ep("a", "c-real-0", "10.224.0.2", &no)},
			}},
			want: readyEndpoints{targets: map[lbPort][]netip.AddrPort{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := summarizeEndpoints(tt.slices, ports, realNodes)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestServicePorts(t *testing.T) {
	svc := &v1.Service{Spec: v1.ServiceSpec{Ports: []v1.ServicePort{
		{Name: "http", Port: 80},
		{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP},
		{Name: "sctp", Port: 99, Protocol: v1.ProtocolSCTP},
	}}}
	want := []servicePort{{lbPort{v1.ProtocolTCP, 80}, "http"}, {lbPort{v1.ProtocolUDP, 53}, "dns"}}
	if got := servicePorts(svc); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLBTargetsPick(t *testing.T) {
	a, b, c := netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:80"), netip.MustParseAddrPort("10.0.0.3:80")
	var tg lbTargets
	if _, ok := tg.pick(nil); ok {
		t.Fatal("an empty set picked an address")
	}
	tg.set([]netip.AddrPort{a, b, c})
	var got []netip.AddrPort
	for range 4 {
		p, _ := tg.pick(nil)
		got = append(got, p)
	}
	if want := []netip.AddrPort{a, b, c, a}; !reflect.DeepEqual(got, want) {
		t.Errorf("round robin: got %v, want %v", got, want)
	}
	// Next in turn is b; with b and c tried, a is the one left.
	if p, ok := tg.pick([]netip.AddrPort{b, c}); !ok || p != a {
		t.Errorf("pick skipping tried: got %v %v, want %v", p, ok, a)
	}
	if _, ok := tg.pick([]netip.AddrPort{a, b, c}); ok {
		t.Error("pick with every address tried returned one")
	}
	tg.set([]netip.AddrPort{c})
	if tg.has(a) || !tg.has(c) {
		t.Error("has does not follow set")
	}
	for range 3 {
		if p, _ := tg.pick(nil); p != c {
			t.Errorf("after set: picked %v, want %v", p, c)
		}
	}
}

func TestUDPSessions(t *testing.T) {
	t0 := time.Unix(1000, 0)
	client := func(port uint16) netip.AddrPort { return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port) }
	tab := newUDPSessions(2, 30*time.Second)

	s1 := &udpSession{client: client(1)}
	s2 := &udpSession{client: client(2)}
	if ev := tab.add(s1, t0); ev != nil {
		t.Fatalf("evicted %v from a table with room", ev.client)
	}
	tab.add(s2, t0.Add(time.Second))
	// s1 used again: s2 is now the least recently used.
	if tab.get(client(1), t0.Add(2*time.Second)) != s1 {
		t.Fatal("get did not return the session")
	}
	s3 := &udpSession{client: client(3)}
	if ev := tab.add(s3, t0.Add(3*time.Second)); ev != s2 {
		t.Fatalf("full table evicted %v, want the least recently used %v", ev, s2.client)
	}
	if tab.get(client(2), t0) != nil {
		t.Fatal("evicted session still in the table")
	}

	// s1 last used at +2s, s3 at +3s; replies keep s3 alive.
	tab.touch(s3, t0.Add(20*time.Second))
	idle := tab.expire(t0.Add(33 * time.Second))
	if len(idle) != 1 || idle[0] != s1 {
		t.Fatalf("expired %v, want only the session idle for 31s", idle)
	}
	if len(tab.expire(t0.Add(50*time.Second))) != 0 {
		t.Fatal("expired a session idle for 30s")
	}
	if got := tab.expire(t0.Add(51 * time.Second)); len(got) != 1 || got[0] != s3 {
		t.Fatalf("expired %v, want s3", got)
	}

	// remove and touch ignore a session the table no longer holds.
	tab.add(s1, t0)
	old := &udpSession{client: client(1)}
	tab.remove(old)
	tab.touch(old, t0.Add(time.Hour))
	if tab.get(client(1), t0) != s1 {
		t.Fatal("a stale session removed the current one")
	}
	if len(tab.all()) != 1 || len(tab.m) != 0 {
		t.Fatal("all did not empty the table")
	}
}
