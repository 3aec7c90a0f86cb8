package main

import (
	"fmt"
	"syscall"
	"time"
)

// The scale lab runs every member's control plane on this machine: at 20
// members, 20 API servers and etcds share its two cores with coredns-fed
// and the client, and in a real federation none of them runs beside the
// DNS server. While a QPS run measures lookups, the lab's programs are
// lowered to the least priority, so that they run only on time coredns-fed
// and the client leave idle, and the processor time they used anyway is
// reported beside the figure. Both the baseline case and the largest are
// measured so.

// leastPriority is the highest nice value, the least share of a busy core.
const leastPriority = 19

// labPIDs returns the process IDs of the lab's programs.
func (sl *scaleLab) labPIDs() []int {
	var pids []int
	for _, c := range sl.lab.Clusters {
		for _, p := range c.Status().Processes {
			if p.PID > 0 {
				pids = append(pids, p.PID)
			}
		}
	}
	return pids
}

// quiet lowers the lab's programs to leastPriority and returns what puts
// them back, which returns the processor time they used in between, as a
// fraction of one core. Each program leads its own process group, and a
// group's priority is set on every thread of it, which a process's alone
// would not be on Linux.
func (sl *scaleLab) quiet() (restore func() float64, err error) {
	pids := sl.labPIDs()
	setAll := func(prio int) error {
		for _, pid := range pids {
			if err := syscall.Setpriority(syscall.PRIO_PGRP, pid, prio); err != nil && err != syscall.ESRCH {
				return fmt.Errorf("setting the priority of the lab's process group %d to %d: %w", pid, prio, err)
			}
		}
		return nil
	}
	var cpu0 time.Duration
	for _, pid := range pids {
		cpu0 += procCPU(pid)
	}
	begin := time.Now()
	if err := setAll(leastPriority); err != nil {
		_ = setAll(0)
		return nil, err
	}
	return func() float64 {
		if err := setAll(0); err != nil {
			progress("%v", err)
		}
		var cpu time.Duration
		for _, pid := range pids {
			cpu += procCPU(pid)
		}
		return (cpu - cpu0).Seconds() / time.Since(begin).Seconds()
	}, nil
}
