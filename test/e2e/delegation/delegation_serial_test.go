//go:build e2e

package delegation_test

// The file's name puts its test before install_test.go's, whose last test
// unjoins jpn.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestSOAIdentical is done-when 1: the servers of `dns install
// --all-clusters`, each cluster's pods started at their own times, give the
// same SOA record at the same moment, over UDP and TCP, at each
// load-balancer address and each pod's own, while endpoints change and each
// rebuilds its index at its own times; the serial is the Federation's
// creation time.
func TestSOAIdentical(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	logServersOnFailure(t)
	// Every cluster's nameserver, and each of its pods: a pod that answers
	// another SOA than its sibling would show through the load balancer
	// only by chance.
	var names, servers []string
	for _, c := range testLab.Clusters {
		names = append(names, c.Name)
		servers = append(servers, dnsAddr(in.server[c.Name]))
	}
	for _, s := range corednsPods(t) {
		names = append(names, s.cluster+" pod "+s.pod.Name)
		servers = append(servers, s.addr)
	}

	hostStore, err := store.New(testLab.Cluster(host).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	fed, err := hostStore.Federations.Get(t.Context(), federation, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	serial := uint32(fed.CreationTimestamp.Unix())

	// The endpoints change under the comparison: jpn's app goes and comes
	// back, and eur's load balancer fails and recovers.
	const compareFor = 20 * time.Second
	eurLB := in.app["eur"]
	t.Cleanup(func() {
		// After a failure, for the tests that follow.
		_ = testLab.SetLoadBalancerDown(eurLB, false)
		_, _ = testLab.Cluster("jpn").Client().AppsV1().Deployments(appNS).Patch(context.Background(), appName,
			types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{})
	})
	events := []struct {
		at time.Duration
		do func()
	}{
		{2 * time.Second, func() { scale(t, "jpn", 0) }},
		{6 * time.Second, func() { _ = testLab.SetLoadBalancerDown(eurLB, true) }},
		{10 * time.Second, func() { scale(t, "jpn", 1) }},
		{13 * time.Second, func() { _ = testLab.SetLoadBalancerDown(eurLB, false) }},
	}

	start := time.Now()
	compared := 0
	answers := map[string]bool{}
	for time.Since(start) < compareFor {
		for len(events) > 0 && time.Since(start) >= events[0].at {
			events[0].do()
			events = events[1:]
		}
		for _, proto := range []string{"udp", "tcp"} {
			soas := make([]string, len(servers))
			errs := make([]error, len(servers))
			// At the same moment: the servers are asked together.
			var wg sync.WaitGroup
			for i, s := range servers {
				wg.Go(func() { soas[i], errs[i] = soaOf(s, proto, serial) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("%s, after %s, coredns-fed of %s at %s: %v", proto, time.Since(start).Round(time.Millisecond), names[i], servers[i], err)
				}
			}
			if distinct := slices.Compact(slices.Sorted(slices.Values(soas))); len(distinct) != 1 {
				t.Fatalf("%s, after %s: the servers give different SOA records:\n%s", proto, time.Since(start).Round(time.Millisecond), soas)
			}
			compared++
		}
		// What the servers answered for the app, to show that the
		// endpoints did change under the comparison.
		if r, err := ask(servers[0], "udp", appFQDN, dns.TypeA); err == nil {
			answers[fmt.Sprint(framework.Addresses(r))] = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%d comparisons of %d servers over %s, UDP and TCP: one SOA, serial %d; the app's answer took %d forms meanwhile", compared, len(servers), compareFor, serial, len(answers))
	if len(answers) < 3 {
		t.Errorf("the app's answer took only %d forms while endpoints changed: %v", len(answers), answers)
	}
}

// soaOf asks server for the zone's SOA over proto, and returns it as text
// with the TTL and every field, after checking that its serial is serial.
// Over UDP it tries three times, a second each, as dig and stub resolvers
// do: a datagram may be lost on a loaded machine, and a lost one says
// nothing about the SOA the server holds.
func soaOf(server, proto string, serial uint32) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(domain+".", dns.TypeSOA)
	c := &dns.Client{Net: proto}
	tries, timeout := 1, 3*time.Second
	if proto == "udp" {
		tries, timeout = 3, time.Second
	}
	var r *dns.Msg
	var err error
	for range tries {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		r, _, err = c.ExchangeContext(ctx, m, server)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("%d tries: %w", tries, err)
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
		return "", fmt.Errorf("rcode %s, AA %v, %d answers: want one authoritative SOA", dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
	}
	soa, ok := r.Answer[0].(*dns.SOA)
	if !ok {
		return "", fmt.Errorf("answer %s is not an SOA", r.Answer[0])
	}
	if soa.Serial != serial {
		return "", fmt.Errorf("serial %d, want %d, the Federation's creation time", soa.Serial, serial)
	}
	return soa.String(), nil
}
