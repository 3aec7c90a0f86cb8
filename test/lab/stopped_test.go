package lab

import (
	"os/exec"
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
