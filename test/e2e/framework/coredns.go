package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// CoreDNS is a coredns-fed process started by a test.
type CoreDNS struct {
	// Addr is the DNS address, 127.0.0.1:port, for UDP and TCP.
	Addr string
	// Port is Addr's port.
	Port int
	// LogPath is the file the server logs to.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
}

// StartCoreDNS writes corefile to dir as Corefile.NAME and runs coredns-fed
// (found on PATH) with it, serving DNS on port, logging to
// dir/coredns-fed.NAME.log.
func StartCoreDNS(dir, name, corefile string, port int) (*CoreDNS, error) {
	bin, err := exec.LookPath("coredns-fed")
	if err != nil {
		return nil, fmt.Errorf("coredns-fed is not on PATH (make build, then PATH=$PWD/bin:$PATH): %w", err)
	}
	conf := filepath.Join(dir, "Corefile."+name)
	if err := os.WriteFile(conf, []byte(corefile), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "coredns-fed."+name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-conf", conf, "-dns.port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &CoreDNS{Addr: net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), Port: port, LogPath: logFile.Name(), cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	return s, nil
}

// Stop interrupts the server, and kills it if it has not exited in 10 s.
// It may be called more than once.
func (s *CoreDNS) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// FreeDNSPort returns a loopback port free for both UDP and TCP.
func FreeDNSPort() (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("no loopback port free for both UDP and TCP")
}

// WaitUntil polls cond every 50 ms until it holds or timeout passes.
func WaitUntil(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met within %s", timeout)
		case <-tick.C:
		}
	}
}
