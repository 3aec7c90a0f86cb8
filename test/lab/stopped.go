package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// waitGroupStopped returns once every thread of every process in process
// group pgid is in the stopped state. kill(2) returns as soon as SIGSTOP is
// queued; a thread busy on another CPU stops a moment later, and on a loaded
// machine it can still answer a request sent in between. A frozen server
// must answer nothing from the moment freeze returns.
func waitGroupStopped(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		running, err := groupRunningThreads(pgid)
		if err != nil {
			return err
		}
		if running == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d threads of process group %d still run %s after SIGSTOP", running, pgid, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// groupRunningThreads counts the threads of process group pgid that are not
// stopped, reading /proc. A process that exits while it is read is skipped.
func groupRunningThreads(pgid int) (int, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	running := 0
	for _, d := range procs {
		if _, err := strconv.Atoi(d.Name()); err != nil {
			continue
		}
		_, group, ok := procStat(filepath.Join("/proc", d.Name(), "stat"))
		if !ok || group != pgid {
			continue
		}
		tasks, _ := filepath.Glob(filepath.Join("/proc", d.Name(), "task", "*", "stat"))
		for _, task := range tasks {
			state, _, ok := procStat(task)
			if ok && state != 'T' && state != 't' && state != 'Z' && state != 'X' {
				running++
			}
		}
	}
	return running, nil
}

// procStat reads a /proc stat file's state and process group. The command
// name, in parentheses, may itself hold spaces and parentheses, so fields
// are counted from the last ')'.
func procStat(path string) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	// After ") ": state ppid pgrp ...
	fields := strings.Fields(s[i+1:])
	if len(fields) < 3 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	pgrp, err = strconv.Atoi(fields[2])
	if err != nil {
		return 0, 0, false
	}
	return fields[0][0], pgrp, true
}
