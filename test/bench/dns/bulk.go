package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

// The throughput part's Services: bulkServices in namespace bulkNS of every
// member, each of type LoadBalancer with one ready endpoint.
//
// The lab's load balancer hands out addresses from one /24 per cluster, 253
// of them, too few for 1,000 Services. So these Services carry a
// load-balancer class of their own, which the lab's load balancer leaves
// alone, and the benchmark plays their load balancer: it writes an address
// from the upper part of the cluster's pool (below it, the lab's load
// balancer hands out addresses from the bottom, to the sample app) into each
// Service's status and listens there itself, so that coredns-fed's probes
// hit real sockets. Services share the addresses, bulkAddrs of them per
// cluster, and so the probe targets.
const (
	bulkNS        = "bulk"
	bulkClass     = "bench.kfed.dev/loopback"
	bulkPort      = 8080
	bulkFirstAddr = 100 // last octet
	bulkAddrs     = 150
	bulkWorkers   = 16 // writers per member
)

// bulk is the throughput part's Services and the listeners behind them.
type bulk struct {
	// names are the global names of the Services, and want their
	// addresses, sorted.
	names []string
	want  map[string][]string
	// listeners serve the Services' addresses.
	listeners []net.Listener
}

func bulkName(i int) string { return fmt.Sprintf("s%04d", i) }

func bulkQName(i int) string {
	return bulkName(i) + "." + bulkNS + "." + federation + ".svc." + domain
}

// bulkAddr is the address of Service i in the cluster with pool.
func bulkAddr(pool netip.Prefix, i int) netip.Addr {
	a := pool.Masked().Addr().As4()
	a[3] = byte(bulkFirstAddr + i%bulkAddrs)
	return netip.AddrFrom4(a)
}

// createBulk creates the Services and their EndpointSlices in every
// member, all members at once, and listens on their addresses.
func (b *bench) createBulk(ctx context.Context) error {
	n := b.opts.services
	bk := &bulk{want: map[string][]string{}}
	b.bulk = bk
	for i := range n {
		name := bulkQName(i)
		bk.names = append(bk.names, name)
		for _, c := range b.lab.Clusters {
			bk.want[name] = append(bk.want[name], bulkAddr(c.LoadBalancerPool, i).String())
		}
		slices.Sort(bk.want[name])
	}
	for _, c := range b.lab.Clusters {
		for i := range min(n, bulkAddrs) {
			l, err := net.Listen("tcp", netip.AddrPortFrom(bulkAddr(c.LoadBalancerPool, i), bulkPort).String())
			if err != nil {
				return err
			}
			bk.listeners = append(bk.listeners, l)
			go accept(l)
		}
	}

	begin := time.Now()
	errs := make([]error, len(b.lab.Clusters))
	var wg sync.WaitGroup
	for ci, c := range b.lab.Clusters {
		wg.Go(func() { errs[ci] = createBulkIn(ctx, c, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	progress("%d LoadBalancer Services with a ready endpoint created in each of %d members in %s",
		n, len(b.lab.Clusters), time.Since(begin).Round(100*time.Millisecond))
	return nil
}

// accept takes connections and closes them at once: the probes only
// connect.
func accept(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		conn.Close()
	}
}

func (bk *bulk) close() {
	for _, l := range bk.listeners {
		l.Close()
	}
}

func createBulkIn(ctx context.Context, c *lab.Cluster, n int) error {
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 1000, 1000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	err = writeEach(ctx, client, bulkNS, n, bulkWorkers, func(i int) error {
		return createService(ctx, client, bulkName(i), bulkAddr(c.LoadBalancerPool, i))
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// writeEach creates namespace, if need be, and runs write for 0..n-1 on
// workers goroutines; a worker stops writing at its first error, and the
// errors are joined.
func writeEach(ctx context.Context, client kubernetes.Interface, namespace string, n, workers int, write func(i int) error) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	next := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range next {
				if errs[w] == nil {
					errs[w] = write(i)
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// createService creates a LoadBalancer Service with addr in its status and
// an EndpointSlice with one ready endpoint, as a load balancer and the
// EndpointSlice controller would.
func createService(ctx context.Context, client kubernetes.Interface, name string, addr netip.Addr) error {
	return writeLBService(ctx, client, lbService{
		namespace: bulkNS, name: name, class: bulkClass, port: bulkPort, addr: addr,
		slice: name + "-1",
		endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.200.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
	})
}

// lbService is a LoadBalancer Service the benchmarks write, with what a
// load balancer and the EndpointSlice controller would add to it.
type lbService struct {
	namespace, name, class string
	port                   int32
	// addr goes into the Service's status, as its load-balancer ingress.
	addr netip.Addr
	// slice names the EndpointSlice that holds endpoints.
	slice     string
	endpoints []discoveryv1.Endpoint
}

// writeLBService creates the Service of s, writes its load-balancer address
// into its status and creates its EndpointSlice, the port named http.
func writeLBService(ctx context.Context, client kubernetes.Interface, s lbService) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: s.name},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: ptr.To(s.class),
			Ports:             []corev1.ServicePort{{Name: "http", Port: s.port}},
		},
	}
	svc, err := client.CoreV1().Services(s.namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: s.addr.String(), IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
	if _, err := client.CoreV1().Services(s.namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: s.slice, Labels: map[string]string{discoveryv1.LabelServiceName: s.name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   s.endpoints,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(s.port)}},
	}
	_, err = client.DiscoveryV1().EndpointSlices(s.namespace).Create(ctx, slice, metav1.CreateOptions{})
	return err
}

// checkAnswers asks s for every bulk name and compares the addresses with
// what they should be. It returns the first difference.
func (bk *bulk) checkAnswers(s *server) error {
	return bk.checkAnswersOf(s, bk.want)
}

// checkAnswersOf asks s for every bulk name, with the EDNS options opts,
// and compares the addresses with want's. It returns the first difference.
func (bk *bulk) checkAnswersOf(s *server, want map[string][]string, opts ...dns.EDNS0) error {
	for _, name := range bk.names {
		r, err := query(s.addr, name, dns.TypeA, opts...)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if got := framework.Addresses(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, want[name]) {
			return fmt.Errorf("%s: %s %v, want %v", name, dns.RcodeToString[r.Rcode], got, want[name])
		}
	}
	return nil
}

// writeZone writes the file plugin's zone: the apex, and every bulk name
// with the same addresses and TTL as coredns-fed answers.
func (bk *bulk) writeZone(path string) error {
	var z strings.Builder
	fmt.Fprintf(&z, "$ORIGIN %s\n", domain)
	fmt.Fprintf(&z, "@ 5 IN SOA ns1.%s hostmaster.%s 1 7200 1800 1209600 5\n", domain, domain)
	fmt.Fprintf(&z, "@ 5 IN NS ns1.%s\n", domain)
	fmt.Fprintf(&z, "ns1 5 IN A 127.0.0.1\n")
	for _, name := range bk.names {
		for _, a := range bk.want[name] {
			fmt.Fprintf(&z, "%s 5 IN A %s\n", name, a)
		}
	}
	return os.WriteFile(path, []byte(z.String()), 0o600)
}

// writeQueries writes dnsperf's query file: every bulk name, type A.
func (bk *bulk) writeQueries(path string) error {
	return writeQueryFile(path, bk.names)
}

// writeQueryFile writes a dnsperf query file that asks each name, type A.
func writeQueryFile(path string, names []string) error {
	var q strings.Builder
	for _, name := range names {
		fmt.Fprintf(&q, "%s A\n", name)
	}
	return os.WriteFile(path, []byte(q.String()), 0o600)
}
