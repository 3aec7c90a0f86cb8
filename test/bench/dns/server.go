package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// server is a running DNS server: coredns-fed with the fed plugin, or
// with the file plugin as a baseline, or knotd.
type server struct {
	// name is the server's in the tables; program is what runs it.
	name, program string
	// addr is where it answers, over UDP and TCP.
	addr string
	// readyURL is the ready plugin's endpoint, if the Corefile has one.
	readyURL string
	// noSOA says that the server answers no SOA: any reply means ready.
	noSOA bool
	cmd   *exec.Cmd
	done  chan error
}

// startFed starts coredns-fed answering for the lab's federation.
func (b *bench) startFed() (*server, error) {
	return b.startFedWith("fed", "")
}

// startGeo starts coredns-fed answering with the nearest member (policy
// geo), locating clients in the city database mmdb.
func (b *bench) startGeo(mmdb string) (*server, error) {
	return b.startFedWith("geo", fmt.Sprintf("        policy geo\n        geoip %s\n", mmdb))
}

// startFedWith starts coredns-fed for the lab's federation, with extra
// lines in the fed block.
func (b *bench) startFedWith(name, extra string) (*server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	ready := fmt.Sprintf("127.0.0.1:%d", ports[1])
	corefile := fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    fed %s {
        kubeconfig %s usa
        ns ns1.%s 127.0.0.1
%s    }
    ready %s
    errors
}
`, domain, ports[0], federation, b.lab.Kubeconfig, domain, extra, ready)
	s, err := b.startCoreDNS(name, corefile, ports[0])
	if err != nil {
		return nil, err
	}
	s.readyURL = "http://" + ready + "/ready"
	return s, nil
}

// startFile starts the same binary with the file plugin serving zoneFile.
func (b *bench) startFile(zoneFile string) (*server, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	corefile := fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    file %s
    errors
}
`, domain, ports[0], zoneFile)
	return b.startCoreDNS("file", corefile, ports[0])
}

// startWhoami starts the same binary with the whoami plugin, which answers
// every query with the client's own address and looks nothing up: what
// CoreDNS's server loop gives on its core with next to no plugin work, the
// most any CoreDNS plugin can reach there.
func (b *bench) startWhoami(string) (*server, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	corefile := fmt.Sprintf(`%s:%d {
    bind 127.0.0.1
    whoami
}
`, domain, ports[0])
	s, err := b.startCoreDNS(srvWhoami, corefile, ports[0])
	if err != nil {
		return nil, err
	}
	s.noSOA = true
	return s, nil
}

// startCoreDNS starts coredns-fed with corefile, answering on port.
func (b *bench) startCoreDNS(name, corefile string, port int) (*server, error) {
	conf := filepath.Join(b.dir, "Corefile."+name)
	if err := os.WriteFile(conf, []byte(corefile), 0o600); err != nil {
		return nil, err
	}
	return b.startServer(name, "coredns-fed", []string{b.bin, "-conf", conf}, port)
}

// startServer runs argv, a DNS server answering on port, with its output
// in the run's directory; on the servers' core if b pins servers.
func (b *bench) startServer(name, program string, argv []string, port int) (*server, error) {
	if b.pinServers {
		argv = onCPU(b.opts.serverCPU, argv)
	}
	return b.startAnywhere(name, program, argv, port)
}

// startAnywhere runs argv as startServer does, on whatever core the
// kernel gives it.
func (b *bench) startAnywhere(name, program string, argv []string, port int) (*server, error) {
	logFile, err := os.Create(filepath.Join(b.dir, program+"-"+name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// It dies with the benchmark, interrupted or not, as the lab does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	s := &server{
		name:    name,
		program: program,
		addr:    net.JoinHostPort("127.0.0.1", fmt.Sprint(port)),
		cmd:     cmd,
		done:    make(chan error, 1),
	}
	go func() {
		s.done <- cmd.Wait()
		logFile.Close()
	}()
	progress("%s (%s) started on %s, pid %d", program, name, s.addr, cmd.Process.Pid)
	return s, nil
}

// waitReady waits for the ready plugin's 200, or, without one, for the
// apex SOA (for a server that answers none, for any reply).
func (s *server) waitReady(timeout time.Duration) error {
	begin := time.Now()
	err := poll(timeout, func() (bool, error) {
		select {
		case err := <-s.done:
			return false, fmt.Errorf("%s (%s) exited: %v; its log is in the run's directory (-keep)", s.program, s.name, err)
		default:
		}
		if s.readyURL != "" {
			resp, err := http.Get(s.readyURL)
			if err != nil {
				return false, nil
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK, nil
		}
		r, err := query(s.addr, domain, dns.TypeSOA)
		return err == nil && r.Rcode == dns.RcodeSuccess && (len(r.Answer) == 1 || s.noSOA), nil
	})
	if err != nil {
		return fmt.Errorf("%s (%s) not ready: %w", s.program, s.name, err)
	}
	progress("%s (%s) ready in %s", s.program, s.name, time.Since(begin).Round(10*time.Millisecond))
	return nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// freePorts returns n distinct loopback ports, each free for both UDP and
// TCP.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range 20 * n {
		if len(ports) == n {
			return ports, nil
		}
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err != nil || slices.Contains(ports, port) {
			continue
		}
		l.Close()
		ports = append(ports, port)
	}
	if len(ports) == n {
		return ports, nil
	}
	return nil, errors.New("no loopback port free for both UDP and TCP")
}

// query asks addr over UDP, with EDNS0 and the options opts.
func query(addr, name string, qtype uint16, opts ...dns.EDNS0) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, opts...)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// poll calls cond every 50 ms until it holds, fails, or timeout passes.
func poll(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
