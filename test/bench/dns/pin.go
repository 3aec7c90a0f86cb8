package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kfed-dev/kfed/test/lab"
)

// The throughput part runs each server on one core and its load on the
// other, so that neither takes processor time from the other and a
// server's figure is what one core gives. A CPU number below 0 leaves that
// side unpinned.

// checkPinning checks that the server's and the clients' cores exist and
// differ, and that taskset, which starts the pinned programs, is there.
func checkPinning(server, client int) error {
	if server < 0 && client < 0 {
		return nil
	}
	n := runtime.NumCPU()
	for _, c := range []int{server, client} {
		if c >= n {
			return fmt.Errorf("-server-cpu %d -client-cpu %d: this machine has CPUs 0 to %d only; pick two of them, or -1 for unpinned", server, client, n-1)
		}
	}
	if server == client {
		return fmt.Errorf("-server-cpu and -client-cpu are both %d: pin the server and its load to different cores, or pass -1 for either to leave it unpinned", server)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return errors.New("taskset is not installed, to pin the servers and dnsperf to cores: install util-linux, or pass -server-cpu -1 -client-cpu -1")
	}
	return nil
}

// onCPU returns argv run on core cpu by taskset, which sets the affinity
// and then executes argv in its own process: every thread the program
// starts inherits the core, and a Go program sees one CPU from its start
// (GOMAXPROCS 1). With cpu below 0, argv is returned as it is.
func onCPU(cpu int, argv []string) []string {
	if cpu < 0 {
		return argv
	}
	return append([]string{"taskset", "--cpu-list", strconv.Itoa(cpu)}, argv...)
}

// pinSelf pins every thread of this process to core cpu, so that the Go
// client's load runs where dnsperf's does, and returns what restores the
// affinity it had. Threads the runtime starts meanwhile inherit the pin
// from the thread that starts them; the restore reaches them too.
func pinSelf(cpu int) (restore func() error, err error) {
	return pinProcess(os.Getpid(), cpu)
}

// pinProcess pins every thread of the running process pid to core cpu,
// and returns what gives them back the affinity the process had. A
// server pinned so keeps the GOMAXPROCS it started with.
func pinProcess(pid, cpu int) (restore func() error, err error) {
	if cpu < 0 {
		return func() error { return nil }, nil
	}
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &old); err != nil {
		return nil, fmt.Errorf("reading the CPU affinity of process %d: %w", pid, err)
	}
	set.Set(cpu)
	if err := setThreadsAffinity(pid, &set); err != nil {
		_ = setThreadsAffinity(pid, &old)
		return nil, fmt.Errorf("pinning process %d to CPU %d: %w", pid, cpu, err)
	}
	return func() error { return setThreadsAffinity(pid, &old) }, nil
}

// setThreadsAffinity sets the affinity of every thread of process pid:
// sched_setaffinity sets one thread's, and a Go program has several.
func setThreadsAffinity(pid int, set *unix.CPUSet) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		// A thread may have exited since the listing: ESRCH is no error.
		if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("thread %d: %w", tid, err))
		}
	}
	return errors.Join(errs...)
}

// cpuTime returns the processor time, user and system, that process pid
// has used, all its threads together.
func cpuTime(pid int) (time.Duration, error) {
	st, err := lab.ReadProcStat(pid)
	return st.CPU, err
}
