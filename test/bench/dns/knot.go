package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// knotd, Knot DNS's server, is the ceiling of the throughput part: the
// fastest authoritative server one can install here (Debian's knot). It
// serves the same zone file as the file plugin, from a configuration and
// directories of the bench's own, on a loopback port, in the foreground
// as a child of the bench: nothing of the package's own service runs.

// findKnotd returns the knotd binary: name on PATH, or in /usr/sbin, where
// Debian puts it and where a user's PATH often does not reach.
func findKnotd(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if name == "knotd" {
		if _, err := os.Stat("/usr/sbin/knotd"); err == nil {
			return "/usr/sbin/knotd", nil
		}
	}
	return "", errors.New("knotd is not installed: install Debian's knot with `apt-get install -y knot`, or run `make bench`, which does; -knotd names another binary")
}

// knotConfig is knotd's configuration: one zone, served from zoneFile on
// 127.0.0.1:port, with one UDP and one TCP worker since it runs on one
// core, its run and storage directories under dir, and nothing written
// back: no journal, no zone file flush. Logs go to stderr.
func knotConfig(dir string, port int, zoneFile string) string {
	return fmt.Sprintf(`server:
    rundir: %[1]s
    listen: 127.0.0.1@%[2]d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

database:
    storage: %[1]s

log:
  - target: stderr
    any: warning

template:
  - id: default
    storage: %[1]s
    journal-content: none
    zonefile-sync: -1
    zonefile-load: whole
    semantic-checks: on

zone:
  - domain: %[3]s
    file: %[4]s
`, dir, port, domain, zoneFile)
}

// startKnot starts knotd serving zoneFile on the server's core.
func (b *bench) startKnot(zoneFile string) (*server, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.dir, "knot")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(conf, []byte(knotConfig(dir, ports[0], zoneFile)), 0o600); err != nil {
		return nil, err
	}
	// knotd runs in the foreground unless told -d (daemonize).
	return b.startServer("knotd", "knotd", []string{b.knotd, "-c", conf}, ports[0])
}
