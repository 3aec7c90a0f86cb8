package main

// How a run is measured: kubectl runs, timed, with the processor time of
// the plugin and of every lab program.

import (
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

type kubectl struct{ kubeconfig string }

// usage is what one kubectl run cost: its processor time, plugins
// included, and its peak resident memory. kubectl execs a plugin in its
// own process, so the peak is the plugin's once it outgrows kubectl's.
type usage struct {
	cpu    time.Duration
	maxRSS int64 // bytes
	stdout string
}

// runTimed runs kubectl and returns what it cost.
func (k kubectl) runTimed(args ...string) (usage, error) {
	cmd := exec.Command("kubectl", append(args, "--kubeconfig", k.kubeconfig)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return usage{}, fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	u := usage{cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), stdout: out.String()}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.maxRSS = ru.Maxrss * 1024 // Linux counts it in KiB
	}
	return u, nil
}

func (k kubectl) run(args ...string) (string, error) {
	u, err := k.runTimed(args...)
	return u.stdout, err
}

// labCPU returns the processor time every lab program has used so far.
func labCPU(l *lab.Lab) time.Duration {
	var total time.Duration
	for _, c := range l.Status() {
		for _, p := range c.Processes {
			if st, err := lab.ReadProcStat(p.PID); err == nil {
				total += st.CPU
			}
		}
	}
	return total
}

// measured is one timed kfed run: how long it took, the processor time of
// the plugin and of every lab program meanwhile, and the plugin's peak
// resident memory.
type measured struct {
	took, cpu time.Duration
	// plugin is the plugin's own share of cpu.
	plugin time.Duration
	maxRSS int64
	stdout string
}

// timed runs kubectl with args and measures it.
func (b *bench) timed(args ...string) (measured, error) {
	before := labCPU(b.lab)
	begin := time.Now()
	u, err := b.k.runTimed(args...)
	took := time.Since(begin)
	if err != nil {
		return measured{}, err
	}
	return measured{took: took, cpu: u.cpu + labCPU(b.lab) - before, plugin: u.cpu, maxRSS: u.maxRSS, stdout: u.stdout}, nil
}

// medianRun returns the run of median duration.
func medianRun(ms []measured) measured {
	s := append([]measured(nil), ms...)
	sort.Slice(s, func(i, j int) bool { return s[i].took < s[j].took })
	return s[len(s)/2]
}
