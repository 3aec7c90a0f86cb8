//go:build e2e

package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// logLatency logs the median round trip of HTTP GETs (a new connection
// each) and UDP echoes (one socket) through the load balancer and straight
// to a pod.
func logLatency(t *testing.T, web *http.Client, lbURL string, lbUDP netip.AddrPort, pods map[string]string) {
	t.Helper()
	var podIP string
	for _, ip := range pods {
		podIP = ip
	}
	direct := netip.MustParseAddr(podIP)
	const n = 100
	measureHTTP := func(url string) time.Duration {
		var ds []time.Duration
		for range n {
			start := time.Now()
			if _, _, err := helloGet(web, url); err != nil {
				t.Fatalf("GET %s: %v", url, err)
			}
			ds = append(ds, time.Since(start))
		}
		return median(ds)
	}
	measureUDP := func(addr netip.AddrPort) time.Duration {
		conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var ds []time.Duration
		for i := range n {
			start := time.Now()
			if _, err := udpEcho(conn, fmt.Sprint("l", i), time.Second); err != nil {
				t.Fatalf("UDP echo through %s: %v", addr, err)
			}
			ds = append(ds, time.Since(start))
		}
		return median(ds)
	}
	t.Logf("median of %d: HTTP GET on a new connection %s through the load balancer, %s straight to the pod; UDP echo %s through the load balancer, %s straight to the pod",
		n, measureHTTP(lbURL), measureHTTP("http://"+netip.AddrPortFrom(direct, 8080).String()+"/"),
		measureUDP(lbUDP), measureUDP(netip.AddrPortFrom(direct, 8053)))
}

// checkPodDeletion deletes the pod that a UDP client's session goes to
// while that client and an HTTP client (a new connection per GET) keep
// asking through the load balancer, and checks that no query fails and
// that the session moves to another pod.
func checkPodDeletion(ctx context.Context, t *testing.T, client kubernetes.Interface, web *http.Client, httpURL string, udpAddr netip.AddrPort) {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(udpAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	const rounds, deleteAt = 200, 40
	var failures []string
	var deleted string
	var deletedAt, movedAt time.Time
	udpAfter, httpAfter := map[string]int{}, map[string]int{}
	for i := range rounds {
		pod, err := udpEcho(conn, fmt.Sprint("d", i), time.Second)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("UDP query %d: %v", i, err))
		case deleted != "":
			udpAfter[pod]++
			if pod != deleted && movedAt.IsZero() {
				movedAt = time.Now()
			}
		case i == deleteAt:
			deleted, deletedAt = pod, time.Now()
			if err := client.CoreV1().Pods("default").Delete(ctx, pod, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("deleting pod %s: %v", pod, err)
			}
		}
		httpPod, _, err := helloGet(web, httpURL)
		switch {
		case err != nil:
			failures = append(failures, fmt.Sprintf("GET %d: %v", i, err))
		case deleted != "":
			httpAfter[httpPod]++
		}
		time.Sleep(25 * time.Millisecond)
	}
	took := time.Since(deletedAt)
	if len(failures) > 0 {
		t.Errorf("%d of %d UDP queries and %d GETs failed while pod %s was deleted: %s",
			len(failures), rounds, rounds, deleted, strings.Join(failures, "; "))
	}
	if movedAt.IsZero() {
		t.Errorf("the UDP session stayed with deleted pod %s for the %s after its deletion: %v", deleted, took.Round(time.Millisecond), udpAfter)
	} else {
		t.Logf("deleted pod %s: the UDP session moved %s later; answers after the deletion: UDP %v, HTTP %v; %d failures in %d rounds",
			deleted, movedAt.Sub(deletedAt).Round(time.Millisecond), udpAfter, httpAfter, len(failures), rounds)
	}
	waitForReadyPods(ctx, t, client, "app=hello", 2)
}

// checkDown takes the load-balancer address down and up again: while down,
// TCP and UDP get no answer; once up, both work again.
func checkDown(t *testing.T, c *Cluster, addr netip.Addr, web *http.Client, httpURL string, udpAddr netip.AddrPort) {
	t.Helper()
	if err := c.SetLoadBalancerDown(addr, true); err != nil {
		t.Fatal(err)
	}
	if pod, _, err := helloGet(web, httpURL); err == nil {
		t.Errorf("GET through a load-balancer address that is down answered by %s", pod)
	}
	if pod, err := udpEchoOnce(udpAddr, "down"); err == nil {
		t.Errorf("UDP through a load-balancer address that is down answered by %s", pod)
	}
	if err := c.SetLoadBalancerDown(addr, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := helloGet(web, httpURL); err != nil {
		t.Errorf("GET after the address came back up: %v", err)
	}
	if _, err := udpEchoOnce(udpAddr, "up"); err != nil {
		t.Errorf("UDP after the address came back up: %v", err)
	}
}

// checkKwokAnswer checks that a Service whose pods are kwok fakes still gets
// the load balancer's own HTTP answer in a cluster with real nodes.
func checkKwokAnswer(ctx context.Context, t *testing.T, c *Cluster, client kubernetes.Interface) {
	t.Helper()
	createBehindLoadBalancer(ctx, t, client, "fake", 1, corev1.PodSpec{
		NodeSelector: map[string]string{"type": "kwok"},
		Tolerations:  []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
		Containers:   []corev1.Container{{Name: "fake", Image: "kfed.dev/lab/fake:v1"}},
	}, []corev1.ServicePort{{Name: "http", Port: 80}})
	url := "http://" + netip.AddrPortFrom(waitForIngress(ctx, t, client, "fake"), 80).String() + "/"
	var body, last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body, last = string(b), resp.Status
		return resp.Header.Get(lbClusterHeader) == c.Name, nil
	})
	if err != nil {
		t.Fatalf("the kwok Service got no answer from the load balancer at %s: %v; last: %s", url, err, last)
	}
	if !strings.Contains(body, "service: fake") {
		t.Errorf("the load balancer's answer for the kwok Service: %q", body)
	}
	if err := client.AppsV1().Deployments("default").Delete(ctx, "fake", metav1.DeleteOptions{}); err != nil {
		t.Errorf("deleting the fake Deployment: %v", err)
	}
}
