package framework

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Unbound is a recursive resolver, Debian's unbound, started by a test in
// the foreground on loopback.
type Unbound struct {
	// Addr is the resolver's address, 127.0.0.1:port, for UDP and TCP.
	Addr string

	*process
}

// Stub is a stub zone of the resolver: it resolves names in Zone starting
// at the authoritative servers Addrs (ADDRESS:PORT, on the machine).
type Stub struct {
	Zone  string
	Addrs []string
}

// StartUnbound writes dir/unbound.conf and runs unbound with it on
// 127.0.0.1:port, logging to dir/unbound.log, and returns once it answers.
//
// The resolver iterates from the stubs only, and sends queries from
// 127.0.0.1 only: stubs must include the root zone ".", so that it never
// asks the Internet's root servers, and every stub address must be one
// that never leaves the machine (see LocalAddr). Servers the stubs refer
// it to may be on the machine's local routes too, such as the lab's
// load-balancer addresses for real nodes: the kernel delivers 127.0.0.1's
// packets to those over loopback, and routes them nowhere else. DNSSEC
// validation is off (module-config "iterator"), which also means no trust
// anchor is fetched.
func StartUnbound(dir string, port int, stubs []Stub) (*Unbound, error) {
	return StartUnboundWith(dir, port, stubs, UnboundOptions{})
}

// UnboundOptions turn on what a resolver does beyond iterating.
type UnboundOptions struct {
	// TrustAnchors, DNSKEY or DS records in presentation format, turn on
	// DNSSEC validation below them (module validator): answers that fail
	// it are SERVFAIL, those that pass have AD.
	TrustAnchors []string
	// ClientSubnet lists the networks of the authoritative servers that
	// unbound sends the client's subnet (ECS) to, with module subnetcache,
	// which also keeps answers apart by the scope they carry.
	ClientSubnet []string
}

// StartUnboundWith is StartUnbound with opts.
func StartUnboundWith(dir string, port int, stubs []Stub, opts UnboundOptions) (*Unbound, error) {
	bin, err := UnboundPath()
	if err != nil {
		return nil, err
	}
	conf, err := UnboundConfig(dir, port, stubs, opts)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	// -d keeps it in the foreground, -p writes no pid file.
	p, err := startProcess(exec.Command(bin, "-d", "-p", "-c", path), filepath.Join(dir, "unbound.log"))
	if err != nil {
		return nil, err
	}
	u := &Unbound{Addr: net.JoinHostPort("127.0.0.1", fmt.Sprint(port)), process: p}
	// version.server is answered by unbound itself, asking no one.
	ask := func() bool {
		m := new(dns.Msg)
		m.SetQuestion("version.server.", dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		_, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, u.Addr)
		return err == nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := WaitUntil(ctx, 15*time.Second, ask); err != nil {
		u.Stop()
		log, _ := os.ReadFile(u.LogPath)
		return nil, fmt.Errorf("unbound on %s did not answer: %v; it logged:\n%s", u.Addr, err, log)
	}
	return u, nil
}

// UnboundConfig returns the configuration StartUnbound runs unbound with:
// listening on 127.0.0.1:port, its working directory dir, resolving only
// from the stubs, each of which must be local (LocalAddr); one of them must
// be the root zone's; opts as StartUnboundWith takes them.
func UnboundConfig(dir string, port int, stubs []Stub, opts UnboundOptions) (string, error) {
	var conf strings.Builder
	fmt.Fprintf(&conf, `server:
    interface: 127.0.0.1@%d
    port: %d
    outgoing-interface: 127.0.0.1
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    do-daemonize: no
    chroot: ""
    username: ""
    directory: %q
    logfile: ""
    use-syslog: no
    log-time-ascii: yes
    log-replies: yes
    num-threads: 1
    do-not-query-localhost: no
`, port, port, dir)
	modules := "iterator"
	if len(opts.TrustAnchors) > 0 {
		modules = "validator " + modules
		// Why an answer is bogus, in the log.
		conf.WriteString("    val-log-level: 2\n")
		for _, ta := range opts.TrustAnchors {
			// One line, its fields apart by spaces: unbound reads no escapes.
			fmt.Fprintf(&conf, "    trust-anchor: \"%s\"\n", strings.Join(strings.Fields(ta), " "))
		}
	}
	if len(opts.ClientSubnet) > 0 {
		modules = "subnetcache " + modules
		conf.WriteString("    client-subnet-always-forward: yes\n")
		for _, n := range opts.ClientSubnet {
			fmt.Fprintf(&conf, "    send-client-subnet: %s\n", n)
		}
	}
	fmt.Fprintf(&conf, "    module-config: %q\n", modules)
	root := false
	for _, s := range stubs {
		zone := dns.Fqdn(s.Zone)
		root = root || zone == "."
		fmt.Fprintf(&conf, "stub-zone:\n    name: %q\n", zone)
		for _, a := range s.Addrs {
			ap, err := netip.ParseAddrPort(a)
			if err != nil {
				return "", fmt.Errorf("stub %s: %q is not an ADDRESS:PORT", zone, a)
			}
			if err := LocalAddr(ap.Addr()); err != nil {
				return "", fmt.Errorf("stub %s: %w", zone, err)
			}
			fmt.Fprintf(&conf, "    stub-addr: %s@%d\n", ap.Addr(), ap.Port())
		}
	}
	if !root {
		return "", errors.New(`no stub for the root zone ".": unbound would ask the Internet's root servers`)
	}
	return conf.String(), nil
}

// UnboundPath returns the path of Debian's unbound: on PATH, or in
// /usr/sbin, which a user's PATH may lack.
func UnboundPath() (string, error) {
	bin, err := exec.LookPath("unbound")
	if err == nil {
		return bin, nil
	}
	if _, statErr := os.Stat("/usr/sbin/unbound"); statErr != nil {
		return "", fmt.Errorf("unbound is not installed (apt-get install unbound; `make e2e` does it): %w", err)
	}
	return "/usr/sbin/unbound", nil
}
