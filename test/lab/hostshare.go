package lab

// Labs with real nodes side by side (parallel test packages, a demo next to
// them) change the same machine-wide things: kubelets set the same sysctls
// and create the same directories. Each lab's record of "before" must be
// the machine's before any of them, and only the last lab to stop may put
// it back. The record lives next to the subnet claims, whose locks say
// which labs still run.

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// sharedDir holds the real nodes' subnet and pool claims, and the shared
// host record.
func sharedDir() string { return filepath.Join(os.TempDir(), "kfed-lab-subnets") }

const (
	hostLockFile     = "host.lock"
	sharedRecordFile = "host.json"
)

// withHostLock runs f holding the lock on the shared host record.
func withHostLock(f func() error) error {
	if err := os.MkdirAll(sharedDir(), 0o777); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(sharedDir(), hostLockFile), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	return f()
}

// readSharedRecord fills h's sysctls and absent directories from the shared
// record, and reports whether there was one. A record left by a lab that
// crashed holds the machine's state before it, which is still what to
// restore.
func readSharedRecord(h *hostRecord) (bool, error) {
	b, err := os.ReadFile(filepath.Join(sharedDir(), sharedRecordFile))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var shared hostRecord
	if err := json.Unmarshal(b, &shared); err != nil {
		// Unreadable: start afresh from the machine as it is.
		return false, nil
	}
	h.Sysctls, h.Absent = shared.Sysctls, shared.Absent
	return true, nil
}

func writeSharedRecord(h *hostRecord) error {
	b, err := json.Marshal(hostRecord{Sysctls: h.Sysctls, Absent: h.Absent})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(sharedDir(), sharedRecordFile), b, 0o600)
}

func removeSharedRecord() { os.Remove(filepath.Join(sharedDir(), sharedRecordFile)) }

// othersActive reports whether any lab holds a real-node subnet or pool:
// a claim whose lock cannot be taken. The caller has released its own.
func othersActive() bool {
	entries, err := os.ReadDir(sharedDir())
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.Name() == hostLockFile || !strings.HasSuffix(e.Name(), ".lock") {
			continue
		}
		f, err := os.OpenFile(filepath.Join(sharedDir(), e.Name()), os.O_RDWR, 0)
		if err != nil {
			continue
		}
		held := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
		f.Close()
		if held {
			return true
		}
	}
	return false
}
