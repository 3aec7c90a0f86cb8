package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/kfed-dev/kfed/test/lab"
)

func newDownCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop every process the lab started",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := filepath.Abs(*dir)
			if err != nil {
				return err
			}
			return down(cmd, dir)
		},
	}
}

// down asks the supervisor to stop the lab, then makes sure, by PID, that
// nothing the lab started is left: a supervisor that was killed leaves
// programs behind, and they all name the lab's directory in their arguments.
func down(cmd *cobra.Command, dir string) error {
	st, stateErr := readState(dir)
	if stateErr == nil && processAlive(st.PID) {
		if err := lab.NewControlClient(st.Socket).Stop(); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: asking the supervisor to stop: %v; killing it\n", err)
			syscall.Kill(st.PID, syscall.SIGTERM)
		}
		deadline := time.Now().Add(time.Minute)
		for processAlive(st.PID) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if processAlive(st.PID) {
			syscall.Kill(st.PID, syscall.SIGKILL)
		}
	}
	left := labProcesses(dir)
	for _, pid := range left {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	os.Remove(filepath.Join(dir, stateFile))
	os.Remove(filepath.Join(dir, "control.sock"))
	// A supervisor that died leaves its real nodes' changes to the machine.
	if err := lab.CleanupRealNodes(dir); err != nil {
		return fmt.Errorf("cleaning up the lab's real nodes: %w", err)
	}
	switch {
	case len(left) > 0:
		fmt.Fprintf(cmd.OutOrStdout(), "lab in %s stopped; killed %d leftover processes %v\n", dir, len(left), left)
	case stateErr != nil:
		fmt.Fprintf(cmd.OutOrStdout(), "no lab was running in %s\n", dir)
	default:
		fmt.Fprintf(cmd.OutOrStdout(), "lab in %s stopped\n", dir)
	}
	return nil
}

// labProcesses returns the PIDs of processes whose command line mentions the
// lab's cluster directory, other than this one.
func labProcesses(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	marker := []byte(filepath.Join(dir, "clusters") + string(filepath.Separator))
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, marker) {
			pids = append(pids, pid)
		}
	}
	return pids
}
