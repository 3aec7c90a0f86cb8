package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/geodb"
	"github.com/kfed-dev/kfed/test/lab"
)

// The geo server's clients are all in Tokyo: every query to it carries the
// EDNS Client Subnet option for 192.0.2.0/24, which the city database of
// test/geodb places there, so each answer is the nearest member's address.
var (
	geoECS     = &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0).To4()}
	geoNearest = "jpn"
)

// dnsperfECS returns dnsperf's -E value for an ECS option: its code, and
// its data in hex as RFC 7871 lays it out: the family (2 bytes), the source
// and scope prefix lengths (1 byte each), and as many bytes of the address
// as the source prefix covers.
func dnsperfECS(e *dns.EDNS0_SUBNET) (string, error) {
	addr := e.Address.To4()
	if e.Family == 2 {
		addr = e.Address.To16()
	}
	n := (int(e.SourceNetmask) + 7) / 8
	if addr == nil || n > len(addr) {
		return "", fmt.Errorf("ECS %s/%d: not an address of family %d", e.Address, e.SourceNetmask, e.Family)
	}
	data := []byte{byte(e.Family >> 8), byte(e.Family), e.SourceNetmask, e.SourceScope}
	data = append(data, addr[:n]...)
	return fmt.Sprintf("%d:%s", dns.EDNS0SUBNET, hex.EncodeToString(data)), nil
}

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
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bulkNS}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	next := make(chan int)
	errs := make([]error, bulkWorkers)
	var wg sync.WaitGroup
	for w := range bulkWorkers {
		wg.Go(func() {
			for i := range next {
				if errs[w] == nil {
					errs[w] = createService(ctx, client, bulkName(i), bulkAddr(c.LoadBalancerPool, i))
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// createService creates a LoadBalancer Service with addr in its status and
// an EndpointSlice with one ready endpoint, as a load balancer and the
// EndpointSlice controller would.
func createService(ctx context.Context, client kubernetes.Interface, name string, addr netip.Addr) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			Type:              corev1.ServiceTypeLoadBalancer,
			LoadBalancerClass: ptr.To(bulkClass),
			Ports:             []corev1.ServicePort{{Name: "http", Port: bulkPort}},
		},
	}
	svc, err := client.CoreV1().Services(bulkNS).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: addr.String(), IPMode: ptr.To(corev1.LoadBalancerIPModeVIP)}}
	if _, err := client.CoreV1().Services(bulkNS).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.200.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](bulkPort)}},
	}
	_, err = client.DiscoveryV1().EndpointSlices(bulkNS).Create(ctx, slice, metav1.CreateOptions{})
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

// startGeoBench writes the city database, starts the geo server and waits
// until it answers every bulk name, asked from Tokyo, with the nearest
// member's address.
func (b *bench) startGeoBench() (*server, error) {
	bk := b.bulk
	mmdb := filepath.Join(b.dir, "geo.mmdb")
	if err := geodb.Write(mmdb, geodb.Lab()); err != nil {
		return nil, err
	}
	var nearest *lab.Cluster
	for _, c := range b.lab.Clusters {
		if c.Name == geoNearest {
			nearest = c
		}
	}
	if nearest == nil {
		return nil, fmt.Errorf("the lab has no cluster %s, nearest to Tokyo", geoNearest)
	}
	want := map[string][]string{}
	for i, name := range bk.names {
		want[name] = []string{bulkAddr(nearest.LoadBalancerPool, i).String()}
	}
	geo, err := b.startGeo(mmdb)
	if err != nil {
		return nil, err
	}
	if err := geo.waitReady(2 * time.Minute); err != nil {
		geo.stop()
		return nil, err
	}
	if err := poll(2*time.Minute, func() (bool, error) { return bk.checkAnswersOf(geo, want, geoECS) == nil, nil }); err != nil {
		err := bk.checkAnswersOf(geo, want, geoECS)
		geo.stop()
		return nil, fmt.Errorf("coredns-fed (geo) does not answer every Service from Tokyo with %s's address: %v", geoNearest, err)
	}
	return geo, nil
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
	var q strings.Builder
	for _, name := range bk.names {
		fmt.Fprintf(&q, "%s A\n", name)
	}
	return os.WriteFile(path, []byte(q.String()), 0o600)
}

// perf is one server's figures.
type perf struct {
	// From dnsperf: the medians of the runs.
	qps, avg, stddev float64
	lost             int
	respSize         int
	rcodes           string
	// From the Go client at a fixed concurrency.
	goQPS         float64
	p50, p95, p99 time.Duration
	goLost        int
	// handler is the plugin's ServeDNS alone, in process.
	handler testing.BenchmarkResult
}

// throughput measures fed and the file baseline and returns the table.
func (b *bench) throughput(fed *server) (func(), error) {
	bk := b.bulk
	zone := filepath.Join(b.dir, "bench.example.com.zone")
	queries := filepath.Join(b.dir, "queries.txt")
	if err := bk.writeZone(zone); err != nil {
		return nil, err
	}
	if err := bk.writeQueries(queries); err != nil {
		return nil, err
	}
	file, err := b.startFile(zone)
	if err != nil {
		return nil, err
	}
	defer file.stop()
	if err := file.waitReady(30 * time.Second); err != nil {
		return nil, err
	}
	for _, s := range []*server{fed, file} {
		if err := bk.checkAnswers(s); err != nil {
			return nil, fmt.Errorf("%s does not answer as it should: %w", s.name, err)
		}
	}
	progress("both servers answer all %d names with the same %d addresses each", len(bk.names), len(b.lab.Clusters))
	geo, err := b.startGeoBench()
	if err != nil {
		return nil, err
	}
	defer geo.stop()
	progress("coredns-fed (geo) answers all %d names, asked with ECS %s/%d, with %s's address", len(bk.names), geoECS.Address, geoECS.SourceNetmask, geoNearest)
	ecsOption, err := dnsperfECS(geoECS)
	if err != nil {
		return nil, err
	}
	// dnsperf's options, and the EDNS options of the Go client, for s.
	dnsperfArgs := func(s *server) string {
		if s == geo {
			return b.opts.dnsperfArgs + " -E " + ecsOption
		}
		return b.opts.dnsperfArgs
	}
	ednsOptions := func(s *server) []dns.EDNS0 {
		if s == geo {
			return []dns.EDNS0{geoECS}
		}
		return nil
	}

	servers := []*server{fed, geo, file}
	runs := map[string][]perf{}
	for round := range b.opts.rounds {
		// Alternate the order, so that neither always runs first.
		order := slices.Clone(servers)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, s := range order {
			r, err := runDNSPerf(s, queries, b.opts.duration, dnsperfArgs(s))
			if err != nil {
				return nil, err
			}
			progress("dnsperf round %d, %s: %.0f QPS, average latency %.3f ms, %d lost", round+1, s.name, r.qps, r.avg*1000, r.lost)
			runs[s.name] = append(runs[s.name], r)
		}
	}
	results := map[string]*perf{}
	for _, s := range servers {
		p := medianRun(runs[s.name])
		lat, err := goLatency(s.addr, bk.names, b.opts.clients, b.opts.duration/2, ednsOptions(s)...)
		if err != nil {
			return nil, err
		}
		p.goQPS, p.p50, p.p95, p.p99, p.goLost = lat.qps, lat.p50, lat.p95, lat.p99, lat.lost
		progress("Go client, %s: %.0f QPS at %d in flight, p50 %s p95 %s p99 %s", s.name, lat.qps, b.opts.clients, lat.p50, lat.p95, lat.p99)
		results[s.name] = p
	}
	fedCost, fileCost, err := b.handlerCost(zone)
	if err != nil {
		return nil, err
	}
	results["fed"].handler, results["file"].handler = fedCost, fileCost
	return func() { b.printThroughput(results, ecsOption) }, nil
}

var (
	reQPS    = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	reAvg    = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	reStddev = regexp.MustCompile(`Latency StdDev \(s\):\s+([0-9.]+)`)
	reLost   = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
	reSize   = regexp.MustCompile(`Average packet size:\s+request [0-9]+, response ([0-9]+)`)
	reRcodes = regexp.MustCompile(`Response codes:\s+(.*)`)
)

// runDNSPerf runs dnsperf against s for d and reads its summary.
func runDNSPerf(s *server, queries string, d time.Duration, extra string) (perf, error) {
	host, port, _ := net.SplitHostPort(s.addr)
	args := append([]string{"-s", host, "-p", port, "-d", queries, "-l", strconv.Itoa(max(1, int(d.Seconds())))}, strings.Fields(extra)...)
	cmd := exec.Command("dnsperf", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return perf{}, fmt.Errorf("dnsperf against %s: %v\n%s", s.name, err, out)
	}
	text := string(out)
	num := func(re *regexp.Regexp) float64 {
		m := re.FindStringSubmatch(text)
		if m == nil {
			return 0
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	var p perf
	p.qps, p.avg, p.stddev = num(reQPS), num(reAvg), num(reStddev)
	p.lost, p.respSize = int(num(reLost)), int(num(reSize))
	if m := reRcodes.FindStringSubmatch(text); m != nil {
		p.rcodes = strings.TrimSpace(m[1])
	}
	if p.qps == 0 {
		return perf{}, fmt.Errorf("dnsperf against %s: no queries per second in its output:\n%s", s.name, out)
	}
	return p, nil
}

// medianRun returns the run of median QPS, with the queries lost in all
// runs.
func medianRun(runs []perf) *perf {
	s := slices.Clone(runs)
	sort.Slice(s, func(i, j int) bool { return s[i].qps < s[j].qps })
	p := s[len(s)/2]
	p.lost = 0
	for _, r := range runs {
		p.lost += r.lost
	}
	return &p
}

type latency struct {
	qps           float64
	p50, p95, p99 time.Duration
	lost          int
}

// goLatency asks addr for names round robin from clients goroutines, each
// with one query in flight on its own socket, for d, and times every
// answer. With opts, every query carries EDNS0 with those options.
func goLatency(addr string, names []string, clients int, d time.Duration, opts ...dns.EDNS0) (latency, error) {
	wire := make([][]byte, len(names))
	for i, name := range names {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		if len(opts) > 0 {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, opts...)
		}
		var err error
		if wire[i], err = m.Pack(); err != nil {
			return latency{}, err
		}
	}
	type result struct {
		took []time.Duration
		lost int
		err  error
	}
	results := make([]result, clients)
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := &results[c]
			conn, err := net.Dial("udp", addr)
			if err != nil {
				r.err = err
				return
			}
			defer conn.Close()
			buf := make([]byte, 1232)
			q := make([]byte, 0, 512)
			for i := c; time.Now().Before(deadline); i++ {
				q = append(q[:0], wire[i%len(wire)]...)
				id := uint16(i)
				q[0], q[1] = byte(id>>8), byte(id)
				start := time.Now()
				if _, err := conn.Write(q); err != nil {
					r.err = err
					return
				}
				_ = conn.SetReadDeadline(start.Add(time.Second))
				for {
					n, err := conn.Read(buf)
					if err != nil {
						r.lost++
						break
					}
					// A late answer to an earlier query is not this one's.
					if n >= 2 && buf[0] == q[0] && buf[1] == q[1] {
						r.took = append(r.took, time.Since(start))
						break
					}
				}
			}
		})
	}
	wg.Wait()
	var all []time.Duration
	var out latency
	for _, r := range results {
		if r.err != nil {
			return latency{}, r.err
		}
		all = append(all, r.took...)
		out.lost += r.lost
	}
	out.qps = float64(len(all)) / d.Seconds()
	out.p50, out.p95, out.p99 = percentile(all, 50), percentile(all, 95), percentile(all, 99)
	return out, nil
}

func (b *bench) printThroughput(results map[string]*perf, ecsOption string) {
	fed, geo, file := results["fed"], results["geo"], results["file"]
	fmt.Printf("\nThroughput: %d names (each a Service in all %d members, %d A records) asked in turn, type A, over UDP to 127.0.0.1.\n",
		len(b.bulk.names), len(b.lab.Clusters), len(b.lab.Clusters))
	fmt.Printf("fed: coredns-fed with the fed plugin, watching %d Services and probing their %d addresses every second. file: the same\n",
		len(b.bulk.names)*len(b.lab.Clusters), min(len(b.bulk.names), bulkAddrs)*len(b.lab.Clusters))
	fmt.Printf("binary with the file plugin")
	fmt.Printf(" and a zone file of the same names and addresses, which also puts the zone's NS record and glue in every answer.\n")
	fmt.Printf("fed answers with every member's address (policy all, the default). geo: a second coredns-fed, the same but with policy geo\n")
	fmt.Printf("and a city database, asked with ECS %s/%d (Tokyo; dnsperf -E %s): it answers with %s's address alone.\n",
		geoECS.Address, geoECS.SourceNetmask, ecsOption, geoNearest)
	fmt.Printf("dnsperf %s: %s per run, median of %d interleaved runs per server.\n", b.opts.dnsperfArgs, b.opts.duration, b.opts.rounds)
	fmt.Printf("Go client: %d queries in flight, one per socket, for %s; its latencies give the percentiles. LOST: in all runs of each.\n\n", b.opts.clients, b.opts.duration/2)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "SERVER\tQPS\tAVG LATENCY\tSTDDEV\tLOST\tRESPONSE\t\tGO QPS\tp50\tp95\tp99")
	for _, name := range []string{"fed", "geo", "file"} {
		p := results[name]
		fmt.Fprintf(w, "%s\t%.0f\t%.3f ms\t%.3f ms\t%d\t%d bytes\t\t%.0f\t%s\t%s\t%s\n", name, p.qps, p.avg*1000, p.stddev*1000, p.lost+p.goLost, p.respSize,
			p.goQPS, us(p.p50), us(p.p95), us(p.p99))
	}
	ratios := func(label string, a, b *perf) {
		fmt.Fprintf(w, "%s\t%.2fx\t%.2fx\t\t\t\t\t%.2fx\t%.2fx\t%.2fx\t%.2fx\n", label, a.qps/b.qps, a.avg/b.avg,
			a.goQPS/b.goQPS, ratio(a.p50, b.p50), ratio(a.p95, b.p95), ratio(a.p99, b.p99))
	}
	ratios("fed / file", fed, file)
	ratios("geo / file", geo, file)
	ratios("geo / fed", geo, fed)
	w.Flush()
	verdict := "met"
	if fed.qps < file.qps {
		verdict = "NOT met"
	}
	geoVerdict := "met"
	if geo.qps < 0.8*file.qps {
		geoVerdict = "NOT met"
	}
	fmt.Printf("\nresponse codes: fed %s; geo %s; file %s\n", fed.rcodes, geo.rcodes, file.rcodes)
	fmt.Printf("the plugin's ServeDNS alone, in process, reply packed: fed %s/query (%d allocs), file %s/query (%d allocs)\n",
		time.Duration(fed.handler.NsPerOp()), fed.handler.AllocsPerOp(), time.Duration(file.handler.NsPerOp()), file.handler.AllocsPerOp())
	fmt.Printf("target: fed's throughput at least the file plugin's: %.2fx, %s\n", fed.qps/file.qps, verdict)
	fmt.Printf("target: geo's throughput, with ECS, at least 0.8 of the file plugin's: %.2fx, %s (all: %.2fx)\n", geo.qps/file.qps, geoVerdict, fed.qps/file.qps)
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func us(d time.Duration) string { return d.Round(time.Microsecond).String() }
