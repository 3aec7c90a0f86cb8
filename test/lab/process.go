package lab

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one program the lab runs: etcd, an API server, a controller
// manager, a scheduler or kwok. Its output goes to a log file, never to the
// caller's streams, so a test's output stays readable.
type process struct {
	name    string
	path    string
	args    []string
	logPath string
	// env, when set, is added to the lab's environment.
	env []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the running process has exited
	err    error         // its exit status, once done is closed
	frozen bool          // stopped with SIGSTOP and not yet continued
}

func newProcess(name, path, logPath string, args ...string) *process {
	return &process{name: name, path: path, args: args, logPath: logPath}
}

// start runs the program. Each process leads its own process group, so stop
// reaches anything it forks, and it is killed if the lab's own process dies
// first, so a crashed test cannot leak control planes.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s is already running (pid %d)", p.name, p.cmd.Process.Pid)
		}
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.path, p.args...)
	if len(p.env) > 0 {
		cmd.Env = append(os.Environ(), p.env...)
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err, p.frozen = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// pid returns the process ID, or 0 when the process is not running.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// running reports whether the process was started and has not exited.
func (p *process) running() bool {
	return p.pid() != 0
}

// exited must be called with mu held.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError returns why the process ended, or nil while it runs.
func (p *process) exitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !p.exited() {
		return nil
	}
	if p.err == nil {
		return fmt.Errorf("%s exited (see %s)", p.name, p.logPath)
	}
	return fmt.Errorf("%s exited: %v (see %s)", p.name, p.err, p.logPath)
}

// freeze stops the process group with SIGSTOP: the program keeps its
// sockets, so the kernel still accepts connections and queues requests, and
// nothing answers them. That is how a hung server looks to its clients,
// unlike a stopped one, whose port refuses connections at once.
func (p *process) freeze() error {
	if err := p.signalFrozen(syscall.SIGSTOP, true); err != nil {
		return err
	}
	p.mu.Lock()
	pgid := p.cmd.Process.Pid
	p.mu.Unlock()
	return waitGroupStopped(pgid, 5*time.Second)
}

// thaw continues a frozen process group with SIGCONT.
func (p *process) thaw() error {
	return p.signalFrozen(syscall.SIGCONT, false)
}

func (p *process) signalFrozen(sig syscall.Signal, frozen bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.exited() {
		return fmt.Errorf("%s is not running", p.name)
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("sending %s to %s: %w", sig, p.name, err)
	}
	p.frozen = frozen
	return nil
}

// isFrozen reports whether the process is running and frozen.
func (p *process) isFrozen() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.exited() && p.frozen
}

// stop sends SIGTERM to the process group, and SIGKILL if it has not exited
// after grace. It returns once the process has been reaped. A frozen
// process is continued right after SIGTERM, so that it shuts down cleanly
// rather than waiting out grace with the signal pending.
func (p *process) stop(grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	pgid := cmd.Process.Pid
	if err := syscall.Kill(-pgid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping %s: %w", p.name, err)
	}
	// SIGCONT to a process that is not stopped does nothing, so it is sent
	// whatever frozen says: a process stopped by anyone else thaws too.
	if err := syscall.Kill(-pgid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("continuing %s: %w", p.name, err)
	}
	p.mu.Lock()
	p.frozen = false
	p.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-time.After(grace):
	}
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing %s: %w", p.name, err)
	}
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, pgid)
	}
}
