package main

// The demo's servers that are not in a cluster (a coredns-fed reading the
// federation with a kubeconfig, the parent zone's server, unbound) run in
// the background after the demo exits, each with a pid file that `make
// lab-down` and the next demo use to stop it.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// server is a program the demo started in the background.
type server struct {
	what    string
	pidFile string
	logFile string
	pid     int
}

// startServer stops the server of an earlier run that pidFile names, if
// any, then shows and starts the command in a session of its own, logging
// to logFile, and records its pid.
func startServer(what, pidFile, logFile string, env []string, name string, args ...string) (*server, error) {
	stopEarlier(pidFile)
	log, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	prefix := ""
	if len(env) > 0 {
		prefix = "env " + strings.Join(env, " ") + " "
	}
	note("$ %s%s &", prefix, shown(name, args...))
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", what, err)
	}
	s := &server{what: what, pidFile: pidFile, logFile: logFile, pid: cmd.Process.Pid}
	// It outlives the demo: nobody waits for it.
	cmd.Process.Release()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(s.pid)+"\n"), 0o600); err != nil {
		return nil, err
	}
	fmt.Printf("%s is running as pid %d, logging to %s\n", what, s.pid, logFile)
	return s, nil
}

// stopEarlier stops the servers the pid files name, if each is still a
// coredns-fed or unbound (a pid may have been reused), and waits up to 10 s
// for them: a coredns-fed with the health plugin's lameduck takes 5 s.
func stopEarlier(pidFiles ...string) {
	var pids []int
	for _, f := range pidFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		os.Remove(f)
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || !isOurs(pid) {
			continue
		}
		fmt.Printf("stopping the %s of an earlier run (pid %d)\n", strings.TrimSuffix(filepath.Base(f), ".pid"), pid)
		if syscall.Kill(pid, syscall.SIGTERM) == nil {
			pids = append(pids, pid)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// isOurs reports whether pid runs coredns-fed or unbound.
func isOurs(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && (strings.Contains(string(b), "coredns-fed") || strings.Contains(string(b), "unbound"))
}

// running reports whether the server is still alive.
func (s *server) running() bool { return syscall.Kill(s.pid, 0) == nil }

// awaitAnswer waits up to a minute until addr answers a query for name and
// qtype with records, and fails with the end of the server's log if it
// exits or does not; s may be nil for a server the demo did not start.
func awaitAnswer(s *server, addr, name string, qtype uint16) error {
	deadline := time.Now().Add(time.Minute)
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	for {
		r, _, err := c.Exchange(m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			return nil
		}
		what := addr
		if s != nil {
			what = s.what
			if !s.running() {
				return fmt.Errorf("%s exited; the end of its log:\n%s", s.what, tail(s.logFile, 20))
			}
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s did not answer %s %s within a minute (last: %v)", what, name, dns.TypeToString[qtype], lastReply(r, err))
			if s != nil {
				msg += "; the end of its log:\n" + tail(s.logFile, 20)
			}
			return fmt.Errorf("%s", msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func lastReply(r *dns.Msg, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%s with %d answers", dns.RcodeToString[r.Rcode], len(r.Answer))
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
