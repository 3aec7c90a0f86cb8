package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ProcStat is what the lab and its benchmarks read from a process's or a
// thread's /proc stat file.
type ProcStat struct {
	// State is the scheduler state: 'R' running, 'S' sleeping, 'T'
	// stopped by a signal, and so on.
	State byte
	// PGrp is the process group.
	PGrp int
	// CPU is the processor time, user and system, all threads together
	// for a process.
	CPU time.Duration
}

// clockTick is the unit of the processor times in a stat file: the
// kernel's USER_HZ, 100 on every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// ReadProcStat reads /proc/<pid>/stat.
func ReadProcStat(pid int) (ProcStat, error) {
	return readProcStat(fmt.Sprintf("/proc/%d/stat", pid))
}

func readProcStat(path string) (ProcStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return ProcStat{}, err
	}
	return ParseProcStat(string(b))
}

// ParseProcStat reads the state (3rd field), the process group (5th) and
// utime and stime (14th and 15th) from the text of a stat file. The
// command name, the 2nd field, is in parentheses and may hold spaces and
// parentheses itself, so fields are counted from the last ')'.
func ParseProcStat(stat string) (ProcStat, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return ProcStat{}, fmt.Errorf("not the text of /proc/<pid>/stat: %.40q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 || len(f[0]) != 1 {
		return ProcStat{}, fmt.Errorf("/proc/<pid>/stat has %d fields after the name, want at least 13", len(f))
	}
	pgrp, err1 := strconv.Atoi(f[2])
	utime, err2 := strconv.ParseUint(f[11], 10, 64)
	stime, err3 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return ProcStat{}, fmt.Errorf("/proc/<pid>/stat: %w", err)
	}
	return ProcStat{State: f[0][0], PGrp: pgrp, CPU: time.Duration(utime+stime) * clockTick}, nil
}
