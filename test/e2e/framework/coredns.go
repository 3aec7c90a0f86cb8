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

	*process
}

// StartCoreDNS writes corefile to dir as Corefile.NAME and runs coredns-fed
// (found on PATH) with it, serving DNS on port, logging to
// dir/coredns-fed.NAME.log.
func StartCoreDNS(dir, name, corefile string, port int) (*CoreDNS, error) {
	return StartCoreDNSWith(dir, name, corefile, port, CoreDNSOptions{})
}

// CoreDNSOptions are the less common settings of a coredns-fed run.
type CoreDNSOptions struct {
	// Host is the address the Corefile binds to, for CoreDNS.Addr;
	// 127.0.0.1 when empty.
	Host string
	// Env is added to the server's environment, as a pod's env and envFrom
	// would add it, for the Corefile's {$VAR} placeholders.
	Env []string
}

// StartCoreDNSWith is StartCoreDNS with options.
func StartCoreDNSWith(dir, name, corefile string, port int, opts CoreDNSOptions) (*CoreDNS, error) {
	bin, err := exec.LookPath("coredns-fed")
	if err != nil {
		return nil, fmt.Errorf("coredns-fed is not on PATH (make build, then PATH=$PWD/bin:$PATH): %w", err)
	}
	conf := filepath.Join(dir, "Corefile."+name)
	if err := os.WriteFile(conf, []byte(corefile), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-conf", conf, "-dns.port", fmt.Sprint(port))
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	p, err := startProcess(cmd, filepath.Join(dir, "coredns-fed."+name+".log"))
	if err != nil {
		return nil, err
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return &CoreDNS{Addr: net.JoinHostPort(host, fmt.Sprint(port)), Port: port, process: p}, nil
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
