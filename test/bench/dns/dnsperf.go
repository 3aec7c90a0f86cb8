package main

import (
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// perf is one server's figures.
type perf struct {
	// From dnsperf: the medians of the runs.
	qps, avg, stddev float64
	lost             int
	respSize         int
	rcodes           string
	// The share of one core the server used during the median run, and
	// dnsperf: a server well below 1 was not the bottleneck.
	serverCPU, clientCPU float64
	// idleCPU is the most the other servers, idle on the same core, took
	// from it during any of this server's runs.
	idleCPU float64
	// starved counts the runs in which neither the server nor dnsperf
	// used half its core: both waited for processor time that other
	// processes of the machine took.
	starved int
	// From the Go client at a fixed concurrency.
	goQPS         float64
	p50, p95, p99 time.Duration
	goLost        int
	// handler is the plugin's ServeDNS alone, in process; cold, for the
	// signed server, is a query's cost there with every signature to make.
	handler testing.BenchmarkResult
	cold    time.Duration
}

var (
	reQPS    = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	reAvg    = regexp.MustCompile(`Average Latency \(s\):\s+([0-9.]+)`)
	reStddev = regexp.MustCompile(`Latency StdDev \(s\):\s+([0-9.]+)`)
	reLost   = regexp.MustCompile(`Queries lost:\s+([0-9]+)`)
	reSize   = regexp.MustCompile(`Average packet size:\s+request [0-9]+, response ([0-9]+)`)
	reRcodes = regexp.MustCompile(`Response codes:\s+(.*)`)
)

// dnsperfRun is one dnsperf run against one server, the others idle.
type dnsperfRun struct {
	server *server
	// idle are the other servers, on the same core.
	idle     []*server
	queries  string
	duration time.Duration
	// args are dnsperf's options besides the server, the query file and
	// the time limit.
	args string
	// cpu is the core dnsperf runs on; below 0, anywhere.
	cpu int
}

// run runs dnsperf and reads its summary, with the processor time the
// server, the idle servers and dnsperf itself used meanwhile.
func (r dnsperfRun) run() (perf, error) {
	s := r.server
	all := append([]*server{s}, r.idle...)
	host, port, _ := net.SplitHostPort(s.addr)
	argv := append([]string{"dnsperf", "-s", host, "-p", port, "-d", r.queries, "-l", strconv.Itoa(max(1, int(r.duration.Seconds())))}, strings.Fields(r.args)...)
	argv = onCPU(r.cpu, argv)
	before, err := cpuTimes(all)
	if err != nil {
		return perf{}, err
	}
	begin := time.Now()
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return perf{}, fmt.Errorf("dnsperf against %s: %v\n%s", s.name, err, out)
	}
	wall := time.Since(begin)
	after, err := cpuTimes(all)
	if err != nil {
		return perf{}, err
	}
	p, err := parseDNSPerf(string(out))
	if err != nil {
		return perf{}, fmt.Errorf("dnsperf against %s: %w", s.name, err)
	}
	p.serverCPU = float64(after[0]-before[0]) / float64(wall)
	for i := 1; i < len(after); i++ {
		p.idleCPU += float64(after[i]-before[i]) / float64(wall)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		p.clientCPU = float64(time.Duration(ru.Utime.Nano()+ru.Stime.Nano())) / float64(wall)
	}
	if p.serverCPU < starvedBelow && p.clientCPU < starvedBelow {
		p.starved = 1
	}
	return p, nil
}

// starvedBelow is the share of its core under which a side of a run is
// taken to have waited for the processor rather than worked.
const starvedBelow = 0.5

// cpuTimes returns the processor time each server has used so far.
func cpuTimes(servers []*server) ([]time.Duration, error) {
	out := make([]time.Duration, len(servers))
	for i, s := range servers {
		var err error
		if out[i], err = cpuTime(s.cmd.Process.Pid); err != nil {
			return nil, fmt.Errorf("processor time of %s (%s): %w", s.program, s.name, err)
		}
	}
	return out, nil
}

// parseDNSPerf reads the figures of dnsperf's summary.
func parseDNSPerf(text string) (perf, error) {
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
		return perf{}, fmt.Errorf("no queries per second in its output:\n%s", text)
	}
	return p, nil
}

// medianRun returns the run of median QPS, with the queries lost and the
// starved runs counted over all runs, and the most the idle servers took
// in any.
func medianRun(runs []perf) *perf {
	s := slices.Clone(runs)
	sort.Slice(s, func(i, j int) bool { return s[i].qps < s[j].qps })
	p := s[len(s)/2]
	p.lost, p.starved = 0, 0
	for _, r := range runs {
		p.lost += r.lost
		p.starved += r.starved
		p.idleCPU = max(p.idleCPU, r.idleCPU)
	}
	return &p
}
