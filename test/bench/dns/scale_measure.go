package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// scaleResult is what one case measured.
type scaleResult struct {
	scaleCase
	skipped string
	// labStart is the lab's start to every API server ready, and labRSS
	// its programs' memory then; load is the time to write every object.
	labStart, load time.Duration
	labRSS         int64
	// ready is coredns-fed's start to its ready plugin's 200; rss its
	// resident memory then, end after every measure, and peak its
	// high-water mark.
	ready          time.Duration
	rss, end, peak int64
	// heap is the live Go heap at the end, as of the last collection; the
	// rest of the resident memory is the collector's headroom (up to as
	// much again, by default), stacks and the runtime.
	heap int64
	// qps asks the global names, whose answers hold an address of each
	// member up to the cap, and memberQPS the members' own names, whose
	// answers hold one address whatever the number of members: the cost
	// of a lookup alone.
	qps, memberQPS latency
	// pinned and memberPinned are dnsperf's QPS on the same names, the
	// server and dnsperf each pinned to a core: the figures the QPS
	// target judges.
	pinned, memberPinned perf
	// handler is a query's cost in fed's ServeDNS alone, in process.
	handler handlerCost
	// churn are the change-to-answer latencies, writes the part of each
	// that the API server took to accept the write and after the rest
	// (the watch, coredns-fed's update and the answer); churnFailed the
	// changes never seen within 10 s; churnRate the changes made a
	// second.
	churn, writes, after []time.Duration
	churnFailed          int
	churnRate            float64
	// probeCPU is coredns-fed's processor time over the idle window, as a
	// fraction of one core, and probes the connections it made a second.
	probeCPU, probes float64
	// gone and back are the load-balancer-down trials.
	gone, back []time.Duration
	lbFailed   int
}

// objects are the Services and endpoints (pods) of CoreDNS's sizing
// formula.
func (r *scaleResult) objects(endpoints int) (services, pods int) {
	services = r.clusters * r.services
	return services, services * endpoints
}

// formula is CoreDNS's memory sizing for the case, in bytes:
// (pods + services) / 1000 + 54 MB.
func (r *scaleResult) formula(endpoints int) int64 {
	services, pods := r.objects(endpoints)
	return int64(float64(pods+services)/1000*1e6 + 54e6)
}

// runCase runs one case in a lab of its own.
func runCase(o options, s scaleOptions, bin string, c scaleCase) (*scaleResult, error) {
	dir, err := os.MkdirTemp("", "kfed-bench-scale-"+c.String()+"-")
	if err != nil {
		return nil, err
	}
	keep := o.keep
	defer func() {
		if keep {
			progress("scale %s: logs kept in %s", c, dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	swap := swapUsed()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	r := &scaleResult{scaleCase: c}
	// Before the lab starts, with the machine to itself.
	if r.handler, err = measureHandler(c, s.addrs); err != nil {
		return nil, err
	}
	progress("scale %s: in process, fed's ServeDNS takes %s for a member's name, %s for a global name", c, r.handler.member, r.handler.global)
	progress("scale %s: starting a lab of %d minimal clusters", c, c.clusters)
	sl, err := startScaleLab(ctx, o, s, bin, c, dir)
	if err != nil {
		keep = true
		return nil, err
	}
	defer sl.lab.Stop()
	defer sl.close()
	r.labStart, r.labRSS = sl.lab.Ready, labRSS(sl.lab.Dir)
	progress("scale %s: lab ready in %s, its programs hold %d MiB", c, r.labStart.Round(100*time.Millisecond), r.labRSS>>20)
	if err := checkSwap(swap, "with the lab started"); err != nil {
		return nil, err
	}
	if err := sl.federate(ctx); err != nil {
		keep = true
		return nil, err
	}
	if err := sl.listen(); err != nil {
		return nil, err
	}
	begin := time.Now()
	if err := sl.load(ctx); err != nil {
		keep = true
		return nil, err
	}
	r.load = time.Since(begin)
	progress("scale %s: %d Services with %d endpoints each written in %s", c, c.clusters*c.services, s.endpoints, r.load.Round(100*time.Millisecond))
	if err := checkSwap(swap, "with the Services written"); err != nil {
		return nil, err
	}

	begin = time.Now()
	fed, err := sl.startFed()
	if err != nil {
		keep = true
		return nil, err
	}
	defer fed.stop()
	if err := fed.waitReady(2 * time.Minute); err != nil {
		keep = true
		return nil, err
	}
	r.ready = time.Since(begin)
	pid := fed.cmd.Process.Pid
	r.rss = procStatus(pid, "VmRSS")
	heapReady := sl.heapAlloc()
	if err := sl.waitAnswered(fed, time.Minute); err != nil {
		keep = true
		return nil, fmt.Errorf("coredns-fed does not answer every member's Services: %w", err)
	}
	names, members := make([]string, c.services), make([]string, c.services)
	for i := range names {
		names[i], members[i] = globalName(i), clusterName(sl.lab.Clusters[i%c.clusters].Name, i)
	}
	thaw, err := sl.freezeLab()
	if err != nil {
		return nil, err
	}
	// Half of -scale-queries for each of dnsperf's rounds, and for each
	// of the Go client's runs that time latency.
	half := max(time.Second, s.queries/2)
	r.pinned, r.memberPinned, err = sl.pinnedQPS(o, fed, names, members, half)
	if err == nil {
		r.qps, err = goLatency(fed.addr, names, o.clients, half, false)
	}
	if err == nil {
		r.memberQPS, err = goLatency(fed.addr, members, o.clients, half, false)
	}
	if err = errors.Join(err, thaw()); err != nil {
		return nil, err
	}
	progress("scale %s: ready after %s, %d MiB resident, %d MiB of Go heap; pinned, %.0f QPS on the global names, %.0f on the members' names; the Go client unpinned, %.0f and %.0f; the members' control planes frozen",
		c, r.ready.Round(10*time.Millisecond), r.rss>>20, heapReady>>20, r.pinned.qps, r.memberPinned.qps, r.qps.qps, r.memberQPS.qps)
	r.probeCPU, r.probes = sl.probeCost(pid, s.window)
	progress("scale %s: idle, coredns-fed used %.1f%% of a core making %.0f probes a second", c, 100*r.probeCPU, r.probes)
	if err := sl.leaving(ctx, fed, r); err != nil {
		return nil, err
	}
	r.end, r.peak, r.heap = procStatus(pid, "VmRSS"), procStatus(pid, "VmHWM"), sl.heapAlloc()
	if err := checkSwap(swap, "during the measures"); err != nil {
		return nil, err
	}
	return r, nil
}

// probeCost measures coredns-fed's processor time and the connections
// its probes make over window, while nothing else asks or changes.
func (sl *scaleLab) probeCost(pid int, window time.Duration) (cpu, probes float64) {
	cpu0, _ := cpuTime(pid)
	acc0, t0 := sl.accepts.Load(), time.Now()
	time.Sleep(window)
	cpu1, _ := cpuTime(pid)
	acc1, took := sl.accepts.Load(), time.Since(t0)
	return (cpu1 - cpu0).Seconds() / took.Seconds(), float64(acc1-acc0) / took.Seconds()
}

// startFed starts coredns-fed for the case with the plugin's defaults but
// scaleMaxAddresses, and a snapshot, as kubectl fed dns install deploys it, and the pprof plugin,
// whose heap page tells the Go heap apart from what the process holds.
func (sl *scaleLab) startFed() (*server, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	ready := fmt.Sprintf("127.0.0.1:%d", ports[1])
	sl.pprof = fmt.Sprintf("127.0.0.1:%d", ports[2])
	corefile := fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    fed %s {
        kubeconfig %s usa
        ns ns1.%s 127.0.0.1
        snapshot %s
        max_addresses %d
    }
    ready %s
    pprof %s
    errors
}
`, domain, ports[0], federation, sl.lab.Kubeconfig, domain, filepath.Join(sl.dir, "snapshot.json"), scaleMaxAddresses, ready, sl.pprof)
	s, err := sl.startCoreDNS("fed-"+sl.c.String(), corefile, ports[0])
	if err != nil {
		return nil, err
	}
	s.readyURL = "http://" + ready + "/ready"
	return s, nil
}

// heapAlloc estimates the Go heap that was live at coredns-fed's last
// collection, from its pprof heap page: half of NextGC, the collector's
// goal, which the default GOGC of 100 sets at twice what the last
// collection left; 0 if it cannot.
func (sl *scaleLab) heapAlloc() int64 {
	resp, err := http.Get("http://" + sl.pprof + "/debug/pprof/heap?debug=1")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "# NextGC = "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n / 2
		}
	}
	return 0
}
