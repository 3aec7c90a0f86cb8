package dnsserver

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// lbService is a served Service with one load-balancer address and a TCP
// port, which is probed.
func lbService(name, addr string, port int32, ready bool) servedService {
	return servedService{Ready: ready, Service: recordOf(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: name},
		Spec: corev1.ServiceSpec{
			Type:  corev1.ServiceTypeLoadBalancer,
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: port}},
		},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: addr}}}},
	})}
}

// testController is a controller with no watch: the tests feed its
// members' Services as a synced watch or the snapshot would.
func testController(t *testing.T, wake func()) *controller {
	t.Helper()
	c := &controller{
		opts:        WatchOptions{},
		members:     map[string]*memberEntry{},
		builder:     newIndexBuilder(),
		targetUsers: map[probeTarget]map[string]int{},
	}
	c.prober = newProber("dns://test:53", WatchOptions{
		ProbeInterval: 50 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		UnhealthyThreshold: 1, HealthyThreshold: 1, ProbeConcurrency: 4, ProbeRate: 1000,
	}, wake)
	t.Cleanup(c.prober.Stop)
	return c
}

// TestMemberStateFollowsChanges: Services set one by one reach the index
// with their health, share probes by address and port, and a probe that
// changes state changes exactly the Services behind it.
func TestMemberStateFollowsChanges(t *testing.T) {
	l, _ := countingListener(t)
	host, port := hostPort(t, l.Addr().String())
	c := testController(t, func() {})
	e := &memberEntry{cluster: Cluster{Name: "usa", Region: "us-east-1"}, served: map[string]*memberServed{}}
	c.members["usa"] = e

	var list []servedService
	for i := range 10 {
		list = append(list, lbService(fmt.Sprintf("s%d", i), host, int32(port), i != 3))
	}
	c.replaceServices(e, list)
	if n := len(c.prober.probes); n != 1 {
		t.Fatalf("%d probes for ten Services behind one address and port, want 1", n)
	}
	waitFor(t, "the probe's first result", func() bool { return c.prober.Pending() == 0 })
	// The first result came after the Services were read: they are read
	// again.
	c.probesChanged()
	idx := c.builder.build(1)
	if idx.Len() != 10 || !idx.Service("demo", "s0").Clusters[0].Healthy || idx.Service("demo", "s3").Clusters[0].Healthy {
		t.Fatalf("index: %d services, s0 healthy %v, s3 healthy %v; want 10, true, false",
			idx.Len(), idx.Service("demo", "s0").Clusters[0].Healthy, idx.Service("demo", "s3").Clusters[0].Healthy)
	}
	if e.total != 10 || e.healthy != 9 {
		t.Errorf("entry points %d, healthy %d; want 10, 9", e.total, e.healthy)
	}

	// The load balancer dies: the Services behind it go, from the probe's
	// result alone.
	l.Close()
	waitFor(t, "the probe down", func() bool { up, _ := c.prober.Status(e.served["demo/s0"].targets[0]); return !up })
	c.probesChanged()
	idx = c.builder.build(1)
	if idx.Service("demo", "s0").Clusters[0].Healthy || e.healthy != 0 {
		t.Errorf("after the load balancer died: s0 healthy %v, %d entry points healthy", idx.Service("demo", "s0").Clusters[0].Healthy, e.healthy)
	}

	// One Service goes, then the member: the probe stops with the last.
	c.setServed(e, "demo/s9", nil)
	if c.builder.build(1).Service("demo", "s9") != nil {
		t.Error("a removed Service is still answered")
	}
	c.replaceServices(e, nil)
	if idx := c.builder.build(1); idx.Len() != 0 || idx.Cluster("usa") != nil {
		t.Errorf("after the member went: %d services, cluster %v", idx.Len(), idx.Cluster("usa"))
	}
	if len(c.prober.probes) != 0 || len(c.targetUsers) != 0 {
		t.Errorf("%d probes and %d targets left with no Service", len(c.prober.probes), len(c.targetUsers))
	}
}

// TestWatchMarksTouchedServices: every event marks the Service it touches,
// tombstones included, and a slice that moves marks both of its Services.
func TestWatchMarksTouchedServices(t *testing.T) {
	w := &memberWatch{dirty: map[string]struct{}{}}
	changes := 0
	onChange := func() { changes++ }
	svcs, slices := w.handler(serviceOf, onChange), w.handler(sliceServiceOf, onChange)
	// The handlers see what the cache keeps: summaries.
	slice := func(svc string) *sliceSummary {
		return summarize(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: svc + "-x",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}}})
	}
	svcs.OnAdd(lbService("web", "127.0.0.1", 80, true).Service, false)
	slices.OnUpdate(slice("old"), slice("new"))
	slices.OnDelete(cache.DeletedFinalStateUnknown{Key: "demo/gone-x", Obj: slice("gone")})
	slices.OnAdd(summarize(&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "orphan"}}), false)
	got := w.takeDirty()
	want := map[string]struct{}{"demo/web": {}, "demo/old": {}, "demo/new": {}, "demo/gone": {}}
	if !reflect.DeepEqual(got, want) || changes != 4 {
		t.Errorf("dirty %v after %d changes, want %v after 4", got, changes, want)
	}
	if len(w.takeDirty()) != 0 {
		t.Error("takeDirty returned the same Services twice")
	}
}
