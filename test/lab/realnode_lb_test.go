//go:build e2e

package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// checkLoadBalancerDataPath runs the sample app (HelloImage) with two
// replicas on the real node behind a LoadBalancer Service and checks that
// the load balancer forwards TCP and UDP to the pods, spreads clients over
// both, loses no request while a pod is deleted, and closes and reopens on
// SetLoadBalancerDown; and that a Service of kwok pods keeps the load
// balancer's own HTTP answer.
func checkLoadBalancerDataPath(ctx context.Context, t *testing.T, c *Cluster) {
	client := c.Client()
	node := c.realNodes[0].name
	createHello(ctx, t, client)
	addr := waitForIngress(ctx, t, client, "hello")
	pods := waitForReadyPods(ctx, t, client, "app=hello", 2)
	t.Logf("hello Service at %s, pods %v", addr, sortedKeys(pods))

	httpURL := "http://" + netip.AddrPortFrom(addr, 80).String() + "/"
	udpAddr := netip.AddrPortFrom(addr, 53)
	web := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	// Both pods answer, over TCP and over UDP (a socket per query, so a
	// session per query).
	seenHTTP, seenUDP := map[string]int{}, map[string]int{}
	for i := range 10 {
		pod, gotNode, err := helloGet(web, httpURL)
		if err != nil {
			t.Fatalf("GET %s: %v", httpURL, err)
		}
		if _, ok := pods[pod]; !ok || gotNode != node {
			t.Fatalf("GET %s answered by pod %q on node %q; want one of %v on %s", httpURL, pod, gotNode, sortedKeys(pods), node)
		}
		seenHTTP[pod]++
		pod, err = udpEchoOnce(udpAddr, fmt.Sprint("q", i))
		if err != nil {
			t.Fatalf("UDP echo through %s: %v", udpAddr, err)
		}
		if _, ok := pods[pod]; !ok {
			t.Fatalf("UDP echo answered by %q; want one of %v", pod, sortedKeys(pods))
		}
		seenUDP[pod]++
	}
	if len(seenHTTP) != 2 || len(seenUDP) != 2 {
		t.Errorf("traffic not spread over both pods: HTTP %v, UDP %v", seenHTTP, seenUDP)
	}
	t.Logf("through the load balancer: HTTP answers by pod %v, UDP echoes by pod %v", seenHTTP, seenUDP)

	logLatency(t, web, httpURL, udpAddr, pods)
	checkPodDeletion(ctx, t, client, web, httpURL, udpAddr)
	checkDown(t, c, addr, web, httpURL, udpAddr)
	checkKwokAnswer(ctx, t, c, client)

	// The pods go before the lab stops, so its drain has nothing to race.
	bg := metav1.DeletePropagationForeground
	if err := client.AppsV1().Deployments("default").Delete(ctx, "hello", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Errorf("deleting the hello Deployment: %v", err)
	}
	waitForReadyPods(ctx, t, client, "app=hello", 0)
}

// createHello creates the hello Deployment, pinned to real nodes, and its
// LoadBalancer Service: HTTP on 80 to 8080, the UDP echo on 53 to 8053.
func createHello(ctx context.Context, t *testing.T, client kubernetes.Interface) {
	t.Helper()
	grace := int64(10)
	fieldEnv := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	pod := corev1.PodSpec{
		NodeSelector:                  map[string]string{LabelRealNode: "true"},
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name:            "hello",
			Image:           HelloImage,
			ImagePullPolicy: corev1.PullNever,
			Args:            []string{"-http-port=8080", "-udp-port=8053", "-lameduck=2s"},
			Ports: []corev1.ContainerPort{
				{Name: "http", ContainerPort: 8080},
				{Name: "echo", ContainerPort: 8053, Protocol: corev1.ProtocolUDP},
			},
			Env: []corev1.EnvVar{
				fieldEnv("POD_NAME", "metadata.name"),
				fieldEnv("POD_NAMESPACE", "metadata.namespace"),
				fieldEnv("NODE_NAME", "spec.nodeName"),
			},
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1,
			},
		}},
	}
	createBehindLoadBalancer(ctx, t, client, "hello", 2, pod, []corev1.ServicePort{
		{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
		{Name: "echo", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(8053)},
	})
}

// createBehindLoadBalancer creates, in the default namespace, a Deployment
// of replicas pods like pod, labelled app=name, and a LoadBalancer Service
// named name with ports in front of them.
func createBehindLoadBalancer(ctx context.Context, t *testing.T, client kubernetes.Interface, name string, replicas int32, pod corev1.PodSpec, ports []corev1.ServicePort) {
	t.Helper()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: labels, Ports: ports},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitForIngress returns the load-balancer address of the Service.
func waitForIngress(ctx context.Context, t *testing.T, client kubernetes.Interface, name string) netip.Addr {
	t.Helper()
	var addr netip.Addr
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		svc, err := client.CoreV1().Services("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(svc.Status.LoadBalancer.Ingress) == 0 {
			return false, nil
		}
		addr, err = netip.ParseAddr(svc.Status.LoadBalancer.Ingress[0].IP)
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("Service %s got no load-balancer address: %v", name, err)
	}
	return addr
}

// waitForReadyPods waits until exactly n pods match selector, all Ready and
// none terminating, and returns their IPs by name.
func waitForReadyPods(ctx context.Context, t *testing.T, client kubernetes.Interface, selector string, n int) map[string]string {
	t.Helper()
	var pods map[string]string
	var last string
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		pods = map[string]string{}
		var states []string
		for _, p := range list.Items {
			ready := p.DeletionTimestamp == nil && slices.ContainsFunc(p.Status.Conditions, func(c corev1.PodCondition) bool {
				return c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
			})
			states = append(states, fmt.Sprintf("%s %s ready=%v", p.Name, p.Status.Phase, ready))
			if ready {
				pods[p.Name] = p.Status.PodIP
			}
		}
		last = strings.Join(states, ", ")
		return len(pods) == n && len(list.Items) == n, nil
	})
	if err != nil {
		t.Fatalf("waiting for %d ready pods %s: %v; pods: %s", n, selector, err, last)
	}
	return pods
}

// helloGet GETs url on a new connection and returns the pod and node that
// answered.
func helloGet(web *http.Client, url string) (pod, node string, err error) {
	resp, err := web.Get(url)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("status %s: %s", resp.Status, body)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "pod: "); ok {
			pod = v
		}
	}
	return pod, resp.Header.Get("X-Kfed-Lab-Node"), nil
}

// udpEchoOnce sends msg from a new socket and returns the pod that echoed.
func udpEchoOnce(addr netip.AddrPort, msg string) (string, error) {
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	return udpEcho(conn, msg, time.Second)
}

// udpEcho sends msg on conn and returns the pod named in the echo, which
// must come within timeout and carry msg.
func udpEcho(conn *net.UDPConn, msg string, timeout time.Duration) (string, error) {
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(msg)); err != nil {
		return "", err
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	pod, echoed, ok := strings.Cut(string(buf[:n]), ": ")
	if !ok || echoed != msg {
		return "", fmt.Errorf("echo of %q is %q", msg, buf[:n])
	}
	return pod, nil
}

// median returns the median of durations.
func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}
