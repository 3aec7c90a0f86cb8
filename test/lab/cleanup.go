package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// hostRecordFile, in the lab's directory, holds the host record of a lab
// with real nodes until the lab has stopped and put the machine back.
const hostRecordFile = "realnodes.json"

// writeHostRecord saves what the lab's real nodes will change, so that a
// cleanup can undo it when the lab's process dies before it could.
func (l *Lab) writeHostRecord() error {
	if l.host == nil {
		return nil
	}
	l.host.Nodes, l.host.LocalRoutes = nil, nil
	for _, c := range l.Clusters {
		if c.RealNodes > 0 {
			l.host.LocalRoutes = append(l.host.LocalRoutes, c.LoadBalancerPool)
		}
		for _, n := range c.realNodes {
			l.host.Nodes = append(l.host.Nodes, nodeRecord{
				Dir: n.dir, Socket: n.socket(), CgroupRoot: n.cgroupRoot, Bridge: n.subnet.bridge,
			})
		}
	}
	b, err := json.MarshalIndent(l.host, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(l.Dir, hostRecordFile), b, 0o600)
}

// CleanupRealNodes undoes what the real nodes of a lab in dir changed on the
// machine, when the lab's process died without stopping them: it kills
// their shims and containers, removes their cgroups, mounts, bridges and
// files outside the lab's directory, and writes back the kernel settings.
// The lab's other programs must be stopped first. It does nothing when the
// lab had no real nodes or stopped cleanly.
func CleanupRealNodes(dir string) error {
	path := filepath.Join(dir, hostRecordFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var h hostRecord
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var errs []error
	for _, rec := range h.Nodes {
		n := &realNode{dir: rec.Dir, name: filepath.Base(rec.Dir), cgroupRoot: rec.CgroupRoot}
		for _, pid := range processesMentioning(rec.Socket) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		ids := n.taskIDs()
		if err := removeCgroupRoot(rec.CgroupRoot); err != nil {
			errs = append(errs, err)
		}
		if err := unmountUnder(rec.Dir); err != nil {
			errs = append(errs, err)
		}
		if err := n.removeMachineFiles(rec.Socket, ids); err != nil {
			errs = append(errs, err)
		}
		if linkExists(rec.Bridge) {
			if err := ip("link", "del", rec.Bridge); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, p := range h.LocalRoutes {
		if localRouteExists(p) {
			if err := delLocalRoute(p); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := h.restore(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return os.Remove(path)
}
