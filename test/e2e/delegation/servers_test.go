//go:build e2e

package delegation_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// serverSelector selects the pods of the coredns-fed Deployment.
const serverSelector = "app.kubernetes.io/name=coredns-fed"

// serversReadyTimeout bounds the wait for a cluster's coredns-fed after
// install: its pods start in seconds on a real node and sync from the host
// in less than one; a Corefile changed under running pods reaches them
// within the kubelet's sync (10 s in the lab) and reload's check (30 s and
// up to 15 s of jitter).
const serversReadyTimeout = 2 * time.Minute

// serversReady waits until the coredns-fed Deployment of every cluster is
// rolled out with all its pods Ready; each pod, at its own address, serves
// the nameservers of records (so it has loaded the Corefile install wrote
// last, which reload may take most of a minute to pick up) and answers the
// app's name with every cluster's address; and the Service's load-balancer
// address answers it over UDP and TCP, port 53. It returns those
// addresses, the nameservers'.
func serversReady(ctx context.Context, app map[string]netip.Addr, records []dns.RR) (map[string]netip.Addr, error) {
	all := addrsOf(app, members...)
	var nameservers []string
	for _, rr := range records {
		if ns, ok := rr.(*dns.NS); ok {
			nameservers = append(nameservers, dns.CanonicalName(ns.Ns))
		}
	}
	slices.Sort(nameservers)
	addrs := map[string]netip.Addr{}
	for _, c := range testLab.Clusters {
		client := c.Client()
		err := framework.Poll(ctx, serversReadyTimeout, 250*time.Millisecond, func(ctx context.Context) error {
			d, err := client.AppsV1().Deployments(v1alpha1.Namespace).Get(ctx, "coredns-fed", metav1.GetOptions{})
			if err != nil {
				return err
			}
			if err := framework.RolledOut(d, *d.Spec.Replicas); err != nil {
				return err
			}
			pods, err := client.CoreV1().Pods(v1alpha1.Namespace).List(ctx, metav1.ListOptions{LabelSelector: serverSelector})
			if err != nil {
				return err
			}
			for _, p := range pods.Items {
				if p.DeletionTimestamp != nil || p.Status.PodIP == "" {
					continue
				}
				addr := dnsAddr(netip.MustParseAddr(p.Status.PodIP))
				if err := servesNS(addr, nameservers); err != nil {
					return fmt.Errorf("the pod %s at %s: %w", p.Name, addr, err)
				}
				if err := answers(addr, "udp", all); err != nil {
					return fmt.Errorf("the pod %s at %s: %w", p.Name, addr, err)
				}
			}
			svc, err := client.CoreV1().Services(v1alpha1.Namespace).Get(ctx, "coredns-fed", metav1.GetOptions{})
			if err != nil {
				return err
			}
			addr, err := lbAddr(svc)
			if err != nil {
				return fmt.Errorf("the Service coredns-fed: %w", err)
			}
			// What resolvers and Zonemaster reach is the load balancer: a
			// pod that still serves the old Corefile, such as one whose
			// endpoint the balancer has not dropped yet, shows there.
			if err := servesNS(dnsAddr(addr), nameservers); err != nil {
				return fmt.Errorf("%s: %w", dnsAddr(addr), err)
			}
			for _, proto := range []string{"udp", "tcp"} {
				if err := answers(dnsAddr(addr), proto, all); err != nil {
					return fmt.Errorf("%s over %s: %w", dnsAddr(addr), proto, err)
				}
			}
			addrs[c.Name] = addr
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("coredns-fed of %s: %w%s", c.Name, err, serverLogs(c.Name))
		}
	}
	return addrs, nil
}

// servesNS checks that the server at addr gives the zone's NS records as
// want, the sorted names.
func servesNS(addr string, want []string) error {
	r, err := ask(addr, "udp", domain+".", dns.TypeNS)
	if err != nil {
		return err
	}
	var got []string
	for _, rr := range r.Answer {
		if ns, ok := rr.(*dns.NS); ok {
			got = append(got, dns.CanonicalName(ns.Ns))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("NS %v (rcode %s), want %v", got, dns.RcodeToString[r.Rcode], want)
	}
	return nil
}

// dnsAddr is port 53 of addr, for a DNS client.
func dnsAddr(addr netip.Addr) string { return netip.AddrPortFrom(addr, 53).String() }

// server is one coredns-fed pod.
type server struct {
	cluster string
	pod     *corev1.Pod
	// addr is the pod's own address, port 53.
	addr string
}

// corednsPods returns the running pods of every cluster's coredns-fed: the
// Deployment's replicas, each Ready.
func corednsPods(t *testing.T) []server {
	t.Helper()
	var out []server
	for _, c := range testLab.Clusters {
		list, err := c.Client().CoreV1().Pods(v1alpha1.Namespace).List(t.Context(), metav1.ListOptions{LabelSelector: serverSelector})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := range list.Items {
			p := &list.Items[i]
			if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
				continue
			}
			if !podReady(p) || p.Status.PodIP == "" {
				t.Fatalf("the coredns-fed pod %s of %s is not Ready (%s)%s", p.Name, c.Name, p.Status.Phase, serverLogs(c.Name))
			}
			addr, err := netip.ParseAddr(p.Status.PodIP)
			if err != nil {
				t.Fatalf("pod %s of %s: %v", p.Name, c.Name, err)
			}
			out = append(out, server{cluster: c.Name, pod: p, addr: dnsAddr(addr)})
			n++
		}
		if n == 0 {
			t.Fatalf("no coredns-fed pod runs in %s", c.Name)
		}
	}
	return out
}

// podReady reports whether a pod's Ready condition is true.
func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// serverLogs returns the end of what the coredns-fed pods of a cluster
// logged, read with kubectl logs, for a failure's message.
func serverLogs(cluster string) string {
	res, err := kubectl.Run(context.Background(), "logs", "-n", v1alpha1.Namespace, "--context", cluster,
		"-l", serverSelector, "--prefix", "--tail", "40", "--all-containers")
	if err == nil && res.ExitCode != 0 {
		err = errors.New(strings.TrimSpace(res.Stderr))
	}
	if err != nil {
		return fmt.Sprintf("\n(the logs of coredns-fed in %s: %v)", cluster, err)
	}
	return fmt.Sprintf("\nthe end of the logs of coredns-fed in %s:\n%s", cluster, res.Stdout)
}

// logServersOnFailure logs the end of every cluster's coredns-fed logs when
// t has failed.
func logServersOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, c := range testLab.Clusters {
			t.Log(strings.TrimPrefix(serverLogs(c.Name), "\n"))
		}
	})
}
