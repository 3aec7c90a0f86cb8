package main

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"
)

// The QPS that the scale targets judge is dnsperf's, as in the
// throughput part: coredns-fed on one core, dnsperf on the other, the
// members' control planes frozen. Unpinned, the Go client's figure for
// one case moved by 12% from one run to the next (members' names: 68,600
// to 86,200 QPS over cases whose lookups cost the same in process), more
// than the 10% the target allows; pinned, each side has a core of its
// own and the median of the rounds is the server's.

// pinnedQPS asks coredns-fed for the global names and for the members'
// names with dnsperf, o.rounds times each, interleaved, with the server
// pinned to o.serverCPU and dnsperf and this process to o.clientCPU, and
// returns the median run of each.
func (sl *scaleLab) pinnedQPS(o options, fed *server, global, members []string, d time.Duration) (g, m perf, err error) {
	files := [2]string{filepath.Join(sl.dir, "global.txt"), filepath.Join(sl.dir, "members.txt")}
	for i, names := range [2][]string{global, members} {
		if err := writeQueryFile(files[i], names); err != nil {
			return perf{}, perf{}, err
		}
	}
	unpinServer, err := pinProcess(fed.cmd.Process.Pid, o.serverCPU)
	if err != nil {
		return perf{}, perf{}, err
	}
	unpinSelf, err := pinSelf(o.clientCPU)
	if err != nil {
		return perf{}, perf{}, errors.Join(err, unpinServer())
	}
	defer func() { err = errors.Join(err, unpinSelf(), unpinServer()) }()
	var runs [2][]perf
	for round := range o.rounds {
		for i, file := range files {
			p, err := dnsperfRun{server: fed, queries: file, duration: d, args: o.dnsperfArgs, cpu: o.clientCPU}.run()
			if err != nil {
				return perf{}, perf{}, err
			}
			progress("scale %s: dnsperf round %d, %s: %.0f QPS, %d lost; coredns-fed %.0f%% of its core, dnsperf %.0f%%",
				sl.c, round+1, [2]string{"global names", "members' names"}[i], p.qps, p.lost, 100*p.serverCPU, 100*p.clientCPU)
			runs[i] = append(runs[i], p)
		}
	}
	return *medianRun(runs[0]), *medianRun(runs[1]), nil
}

// checkDNSPerf tells how to install dnsperf when it is missing.
func checkDNSPerf() error {
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return fmt.Errorf("dnsperf is not installed: install it with `apt-get install -y dnsperf` (Debian, Ubuntu), or run `make bench`, which does")
	}
	return nil
}
