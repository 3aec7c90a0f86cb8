package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestWaitGroupStopped(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()
	if err := waitGroupStopped(cmd.Process.Pid, 50*time.Millisecond); err == nil {
		t.Errorf("waitGroupStopped on a running process returned nil")
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := waitGroupStopped(cmd.Process.Pid, 5*time.Second); err != nil {
		t.Errorf("after SIGSTOP: %v", err)
	}
}

func TestProcStat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	// A command name may hold spaces and parentheses.
	os.WriteFile(path, []byte("4242 (a) b (c) T 1 4240 4240 0 -1 4194560\n"), 0o600)
	state, pgrp, ok := procStat(path)
	if !ok || state != 'T' || pgrp != 4240 {
		t.Errorf("procStat = %q, %d, %v; want 'T', 4240, true", state, pgrp, ok)
	}
	os.WriteFile(path, []byte("4242 no-paren S 1"), 0o600)
	if _, _, ok := procStat(path); ok {
		t.Errorf("procStat accepted a line with no command name")
	}
}
