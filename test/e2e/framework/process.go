package framework

import (
	"os"
	"os/exec"
	"time"
)

// process is a program a test started in the foreground, logging to a
// file.
type process struct {
	// LogPath is the file the program logs to.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
}

// startProcess starts cmd with its output going to a new file at logPath.
func startProcess(cmd *exec.Cmd, logPath string) (*process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	p := &process{LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// Done is closed once the program has exited, for a test to tell one that
// failed to start from one that is slow to answer.
func (p *process) Done() <-chan struct{} { return p.done }

// Signal sends sig to the program, such as SIGUSR1, which makes CoreDNS
// reload its Corefile.
func (p *process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop interrupts the program, and kills it if it has not exited in 10 s.
// It may be called more than once.
func (p *process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
