//go:build e2e

package pods_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// streamInterval is the gap between two queries of a drill's stream.
const streamInterval = 20 * time.Millisecond

// TestPodDeletionLosesNoQuery deletes one of the two coredns-fed pods, as
// `kubectl delete pod` does, while queries stream through the load
// balancer: none may be lost. The pod leaves the Service's ready endpoints
// when it starts terminating, and serves what is in flight through the
// health plugin's lameduck.
func TestPodDeletionLosesNoQuery(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	pods := readyPods(t)
	if len(pods) != 2 {
		t.Fatalf("%d Ready coredns-fed pods, want 2", len(pods))
	}
	victim := pods[0]

	s := startStream(streamInterval)
	t.Cleanup(func() { s.stopOnce.Do(func() { close(s.stop) }) })
	// Both pods serve before the drill: the victim answered some of the
	// stream's queries.
	framework.Eventually(t, 10*time.Second, 200*time.Millisecond, "pod "+victim.Name+" answers queries of the stream", func(context.Context) error {
		n, err := requestsServed(victim)
		if err == nil && n == 0 {
			err = fmt.Errorf("no request counted yet")
		}
		return err
	})
	begin := time.Now()
	kubectl.Succeed(t, "--context", host, "-n", v1alpha1.Namespace, "delete", "pod", victim.Name, "--wait=true", "--timeout=60s")
	t.Logf("pod %s was gone %s after the delete", victim.Name, time.Since(begin).Round(10*time.Millisecond))
	if err := waitAvailable(context.Background(), 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("two pods Ready again %s after the delete", time.Since(begin).Round(10*time.Millisecond))
	time.Sleep(time.Second)
	s.finish(t, 50)
}

// TestDrainRespectsPDB drains both real nodes at once with kubectl drain,
// while queries stream through the load balancer. The PodDisruptionBudget
// (minAvailable 1) lets one pod be evicted; its replacement cannot be
// scheduled on cordoned nodes, so the second eviction is refused and one pod
// keeps serving: drain gives up, and no query is lost.
func TestDrainRespectsPDB(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	nodes := testLab.Cluster(host).RealNodeNames()
	if len(nodes) != 2 {
		t.Fatalf("%d real nodes in %s, want 2", len(nodes), host)
	}
	if n := len(readyPods(t)); n != 2 {
		t.Fatalf("%d Ready coredns-fed pods, want 2", n)
	}
	uncordon := append([]string{"--context", host, "uncordon"}, nodes...)
	t.Cleanup(func() {
		// For the tests after this one, whatever happened; t's context
		// is done by now.
		if res, err := kubectl.Run(context.Background(), uncordon...); err != nil || res.ExitCode != 0 {
			t.Errorf("uncordoning the nodes: %v\n%s", err, res)
		}
	})

	s := startStream(streamInterval)
	t.Cleanup(func() { s.stopOnce.Do(func() { close(s.stop) }) })
	time.Sleep(time.Second)
	args := append([]string{"--context", host, "drain"}, nodes...)
	res, err := kubectl.Run(context.Background(), append(args, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=20s")...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubectl drain:\n%s", res)
	if res.ExitCode == 0 {
		t.Errorf("draining both nodes succeeded: the PodDisruptionBudget should have kept one pod")
	}
	if out := res.Stdout + res.Stderr; !strings.Contains(out, "disruption budget") {
		t.Errorf("drain did not say a disruption budget stopped it")
	}
	if n := len(readyPods(t)); n != 1 {
		t.Errorf("%d Ready coredns-fed pods after the drain, want 1", n)
	}

	kubectl.Succeed(t, uncordon...)
	if err := waitAvailable(context.Background(), 2, time.Minute); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	s.finish(t, 50)
}

// readyPods returns coredns-fed's Ready pods that are not terminating.
func readyPods(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := testLab.Cluster(host).Client().CoreV1().Pods(v1alpha1.Namespace).List(context.Background(),
		metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=" + deployment})
	if err != nil {
		t.Fatal(err)
	}
	var ready []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, p)
			}
		}
	}
	return ready
}

// requestsServed reads a pod's coredns_dns_requests_total from its metrics
// port, summed over its labels.
func requestsServed(pod corev1.Pod) (float64, error) {
	url := "http://" + net.JoinHostPort(pod.Status.PodIP, "9153") + "/metrics"
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "coredns_dns_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q: %w", url, line, err)
		}
		sum += v
	}
	return sum, sc.Err()
}
