package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

// leaving measures how fast a member's copy of a Service leaves the
// answers: under endpoint churn, and with its load balancer down. A lone
// member's copy never leaves: with every copy down the answer fails open
// and shows it still, so a case of one member skips both.
func (sl *scaleLab) leaving(ctx context.Context, fed *server, r *scaleResult) error {
	if sl.c.clusters < 2 {
		progress("scale %s: one member, whose answers fail open: no churn or load-balancer-down trials", sl.c)
		return nil
	}
	if err := sl.churn(ctx, fed, r); err != nil {
		return err
	}
	return sl.failover(fed, r)
}

// answers reports whether member c answers for Service i with its address.
func (sl *scaleLab) answers(fed *server, c *lab.Cluster, i int) bool {
	m, err := query(fed.addr, clusterName(c.Name, i), dns.TypeA)
	return err == nil && slices.Contains(framework.Addresses(m), sl.addr(c, i).String())
}

// churn makes s.churn endpoint changes a second, each to a random Service
// of a random member: every endpoint of its EndpointSlice turns not ready,
// or ready again. Each change is timed from before its write to the first
// answer at the member's name that shows it.
func (sl *scaleLab) churn(ctx context.Context, fed *server, r *scaleResult) error {
	clients := map[string]kubernetes.Interface{}
	for _, c := range sl.lab.Clusters {
		client, err := scaleClient(c)
		if err != nil {
			return err
		}
		clients[c.Name] = client
	}
	type key struct {
		c *lab.Cluster
		i int
	}
	var mu sync.Mutex
	// down holds the member whose copy of a Service is down, one at
	// most: were every copy down, the answer would fail open and show
	// nothing of the change.
	down, busy := map[int]*lab.Cluster{}, map[int]bool{}
	var wg sync.WaitGroup
	var errs []error
	change := func(k key, ready bool, timed bool) {
		start := time.Now()
		patch, _ := json.Marshal(map[string]any{"endpoints": sl.endpoints(k.i, ready)})
		_, err := clients[k.c.Name].DiscoveryV1().EndpointSlices(scaleNS).Patch(ctx, scaleName(k.i), types.MergePatchType, patch, metav1.PatchOptions{})
		written := time.Since(start)
		ok := err == nil && pollFor(10*time.Second, 20*time.Millisecond, func() bool { return sl.answers(fed, k.c, k.i) == ready })
		took := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs = append(errs, err)
		case !timed:
		case ok:
			r.churn = append(r.churn, took)
			r.writes = append(r.writes, written)
			r.after = append(r.after, took-written)
		default:
			r.churnFailed++
		}
		if ready {
			delete(down, k.i)
		} else {
			down[k.i] = k.c
		}
		delete(busy, k.i)
	}
	// Each change has its time, kept even when the machine is slow: a
	// late one goes at once, so the rate holds.
	period := time.Second / time.Duration(sl.opts.churn)
	begin, made := time.Now(), 0
	for n := 0; time.Duration(n)*period < sl.opts.window; n++ {
		time.Sleep(time.Until(begin.Add(time.Duration(n) * period)))
		mu.Lock()
		// A Service whose last change is still being timed is passed
		// over for another.
		i := rand.N(sl.c.services)
		for try := 0; busy[i] && try < 10; try++ {
			i = rand.N(sl.c.services)
		}
		if busy[i] {
			mu.Unlock()
			continue
		}
		busy[i] = true
		k, ready := key{down[i], i}, true
		if k.c == nil {
			k.c, ready = sl.lab.Clusters[rand.N(len(sl.lab.Clusters))], false
		}
		mu.Unlock()
		made++
		wg.Go(func() { change(k, ready, true) })
	}
	r.churnRate = float64(made) / time.Since(begin).Seconds()
	wg.Wait()
	// Everything ready again for what follows.
	for i, c := range down {
		change(key{c, i}, true, false)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d endpoint changes failed, the first: %w", len(errs), errs[0])
	}
	progress("scale %s: %d endpoint changes (%.0f a second): change to answer p50 %s, p95 %s (the write p95 %s, after it p95 %s), %d not seen in 10s",
		sl.c, made, r.churnRate, ms(percentile(r.churn, 50)), ms(percentile(r.churn, 95)), ms(percentile(r.writes, 95)), ms(percentile(r.after, 95)), r.churnFailed)
	return nil
}

// pollFor calls cond every step until it holds or timeout passes.
func pollFor(timeout, step time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(step)
	}
	return true
}

// failover takes a random member's random load-balancer address down and
// up again, trials times, each from a random phase of the probes, and
// times the answer at the member's name of a Service behind it leaving
// and coming back, asking every 50 ms.
func (sl *scaleLab) failover(fed *server, r *scaleResult) error {
	for trial := range sl.opts.trials {
		c := sl.lab.Clusters[rand.N(len(sl.lab.Clusters))]
		k := rand.N(len(sl.lbs[c.Name]))
		lb := sl.lbs[c.Name][k]
		if !pollFor(30*time.Second, 50*time.Millisecond, func() bool { return sl.answers(fed, c, k) }) {
			return fmt.Errorf("trial %d: %s of %s is not answered before its load balancer goes down", trial+1, clusterName(c.Name, k), c.Name)
		}
		time.Sleep(rand.N(time.Second))
		for _, up := range []bool{false, true} {
			start := time.Now()
			if err := sl.setUp(lb, up); err != nil {
				return err
			}
			if !pollFor(30*time.Second, 50*time.Millisecond, func() bool { return sl.answers(fed, c, k) == up }) {
				r.lbFailed++
				continue
			}
			if up {
				r.back = append(r.back, time.Since(start))
			} else {
				r.gone = append(r.gone, time.Since(start))
			}
		}
	}
	progress("scale %s: load balancer down: gone p50 %s p95 %s, back p95 %s, %d failed",
		sl.c, ms(percentile(r.gone, 50)), ms(percentile(r.gone, 95)), ms(percentile(r.back, 95)), r.lbFailed)
	return nil
}
