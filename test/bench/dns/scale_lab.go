package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/lab"
)

// The scale lab's Services: each member's share scaleAddrs addresses of
// its load-balancer pool, from the 11th on, all on scalePort, and carry a
// load-balancer class of their own that nothing in the lab acts on.
const (
	scaleClass     = "bench.kfed.dev/scale"
	scalePort      = 8080
	scaleFirstAddr = 10
	scaleWriters   = 8 // per member
)

// scaleRegions are the members' regions, round robin.
var scaleRegions = []string{"us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2"}

// scaleLab is one case's lab, federation and load balancers.
type scaleLab struct {
	*bench
	c    scaleCase
	opts scaleOptions
	// lbs are the listeners behind each member's addresses.
	lbs map[string][]*scaleLB
	// accepts counts the connections all listeners took: probes.
	accepts atomic.Int64
	// pprof is where coredns-fed's pprof plugin listens.
	pprof string
}

// scaleLB is one load-balancer address of a member, listening or down.
type scaleLB struct {
	addr netip.AddrPort
	mu   sync.Mutex
	l    net.Listener
}

// startScaleLab starts the case's lab of minimal clusters, named usa (the
// host) and m02, m03 and so on, and records its start time and memory.
func startScaleLab(ctx context.Context, o options, s scaleOptions, bin string, c scaleCase, dir string) (*scaleLab, error) {
	specs := make([]lab.ClusterSpec, c.clusters)
	for i := range specs {
		specs[i] = lab.ClusterSpec{Name: fmt.Sprintf("m%02d", i+1), Region: scaleRegions[i%len(scaleRegions)]}
	}
	// The bench's servers read the host from context usa.
	specs[0].Name = "usa"
	l, err := lab.Start(ctx, lab.Options{
		Dir: filepath.Join(dir, "lab"), Clusters: specs, Minimal: true,
		MinimalControllers: []string{"serviceaccount-token"}, Log: os.Stderr,
	})
	if err != nil {
		return nil, err
	}
	return &scaleLab{bench: &bench{opts: o, lab: l, dir: dir, bin: bin}, c: c, opts: s, lbs: map[string][]*scaleLB{}}, nil
}

// federate makes the federation: host usa, every cluster a member.
func (sl *scaleLab) federate(ctx context.Context) error {
	if _, err := sl.kubectlFed(ctx, "init", federation, "--context", "usa", "--domain", strings.TrimSuffix(domain, ".")); err != nil {
		return err
	}
	for i, c := range sl.lab.Clusters {
		// Minimal clusters have no nodes to read the region from.
		region := scaleRegions[i%len(scaleRegions)]
		if _, err := sl.kubectlFed(ctx, "join", c.Name, "--context", "usa", "--cluster-context", c.Name, "--region", region); err != nil {
			return err
		}
	}
	return nil
}

// addr returns the address of Service i in member c.
func (sl *scaleLab) addr(c *lab.Cluster, i int) netip.Addr {
	a := c.LoadBalancerPool.Masked().Addr().As4()
	a[3] = byte(scaleFirstAddr + i%sl.opts.addrs)
	return netip.AddrFrom4(a)
}

// listen opens every member's load-balancer addresses.
func (sl *scaleLab) listen() error {
	for _, c := range sl.lab.Clusters {
		for k := range min(sl.opts.addrs, sl.c.services) {
			lb := &scaleLB{addr: netip.AddrPortFrom(sl.addr(c, k), scalePort)}
			if err := sl.setUp(lb, true); err != nil {
				return err
			}
			sl.lbs[c.Name] = append(sl.lbs[c.Name], lb)
		}
	}
	return nil
}

// setUp opens or closes a load-balancer address: closed, connections to
// it are refused, as when a load balancer dies.
func (sl *scaleLab) setUp(lb *scaleLB, up bool) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if !up {
		if lb.l != nil {
			lb.l.Close()
			lb.l = nil
		}
		return nil
	}
	if lb.l != nil {
		return nil
	}
	l, err := net.Listen("tcp", lb.addr.String())
	if err != nil {
		return err
	}
	lb.l = l
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			sl.accepts.Add(1)
			conn.Close()
		}
	}()
	return nil
}

func (sl *scaleLab) close() {
	for _, lbs := range sl.lbs {
		for _, lb := range lbs {
			_ = sl.setUp(lb, false)
		}
	}
}

// load writes every member's Services, their status and EndpointSlices,
// all members at once.
func (sl *scaleLab) load(ctx context.Context) error {
	errs := make([]error, len(sl.lab.Clusters))
	var wg sync.WaitGroup
	for ci, c := range sl.lab.Clusters {
		wg.Go(func() { errs[ci] = sl.loadMember(ctx, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (sl *scaleLab) loadMember(ctx context.Context, c *lab.Cluster) error {
	client, err := scaleClient(c)
	if err != nil {
		return err
	}
	err = writeEach(ctx, client, scaleNS, sl.c.services, scaleWriters, func(i int) error {
		return sl.writeService(ctx, client, i, sl.addr(c, i))
	})
	if err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// scaleClient is a client for the bench's writes, not held back by
// client-side rate limits.
func scaleClient(c *lab.Cluster) (kubernetes.Interface, error) {
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 2000, 2000
	return kubernetes.NewForConfig(cfg)
}

// writeService creates Service i with addr in its status, and its
// EndpointSlice with every endpoint ready.
func (sl *scaleLab) writeService(ctx context.Context, client kubernetes.Interface, i int, addr netip.Addr) error {
	name := scaleName(i)
	return writeLBService(ctx, client, lbService{
		namespace: scaleNS, name: name, class: scaleClass, port: scalePort, addr: addr,
		slice: name, endpoints: sl.endpoints(i, true),
	})
}

// endpoints returns Service i's endpoints, all ready or none.
func (sl *scaleLab) endpoints(i int, ready bool) []discoveryv1.Endpoint {
	eps := make([]discoveryv1.Endpoint, sl.opts.endpoints)
	for j := range eps {
		ip := netip.AddrFrom4([4]byte{10, byte(200 + j), byte(i >> 8), byte(i)})
		eps[j] = discoveryv1.Endpoint{Addresses: []string{ip.String()}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)}}
	}
	return eps
}

// labRSS sums the resident memory of the lab's programs: every process
// whose command line names the lab's directory.
func labRSS(dir string) int64 {
	entries, _ := os.ReadDir("/proc")
	var total int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), dir) {
			continue
		}
		total += procStatus(pid, "VmRSS")
	}
	return total
}

// procStatus reads a field of /proc/<pid>/status given in kB, in bytes.
func procStatus(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return kBField(string(data), field)
}

// memAvailable is the machine's available memory, in bytes.
func memAvailable() int64 { return meminfo("MemAvailable") }

// swapUsed is the swap in use, in bytes.
func swapUsed() int64 { return meminfo("SwapTotal") - meminfo("SwapFree") }

func meminfo(field string) int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	return kBField(string(data), field)
}

// kBField finds "field: N kB" in text and returns N kB in bytes.
func kBField(text, field string) int64 {
	for line := range strings.SplitSeq(text, "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || name != field {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		return n << 10
	}
	return 0
}

// checkSwap fails once the machine swaps more than when the case began:
// figures taken while swapping mean nothing, and the other users of the
// machine suffer.
func checkSwap(before int64, what string) error {
	if grew := swapUsed() - before; grew > 64<<20 {
		return fmt.Errorf("the machine swaps (%d MiB more swap in use) %s: stopping; run fewer members (-scale-cases)", grew>>20, what)
	}
	return nil
}

// waitAnswered polls until every member answers a sample of names at the
// member level with its address, or timeout passes.
func (sl *scaleLab) waitAnswered(fed *server, timeout time.Duration) error {
	step := max(1, sl.c.services/50)
	return poll(timeout, func() (bool, error) {
		for _, c := range sl.lab.Clusters {
			for i := 0; i < sl.c.services; i += step {
				if !sl.answers(fed, c, i) {
					return false, nil
				}
			}
		}
		return true, nil
	})
}
