//go:build unix

package fedlock

import (
	"errors"
	"syscall"
)

// alive reports whether a process of this machine runs: signal 0 checks
// without sending anything. A process of another user (EPERM) runs.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}
