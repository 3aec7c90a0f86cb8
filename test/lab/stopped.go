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
		st, err := readProcStat(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil || st.PGrp != pgid {
			continue
		}
		tasks, _ := filepath.Glob(filepath.Join("/proc", d.Name(), "task", "*", "stat"))
		for _, task := range tasks {
			st, err := readProcStat(task)
			if err == nil && !strings.ContainsRune("TtZX", rune(st.State)) {
				running++
			}
		}
	}
	return running, nil
}
