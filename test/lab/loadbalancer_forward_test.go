package lab

import (
	"context"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// newTestLB returns a load balancer with only what its forwarders use.
func newTestLB(t *testing.T) *loadBalancer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	lb := &loadBalancer{
		cluster:    "test",
		log:        &lbLogWriter{w: io.Discard},
		delays:     map[[2]netip.Addr]time.Duration{},
		connCtx:    ctx,
		cancelConn: cancel,
	}
	t.Cleanup(func() {
		cancel()
		lb.serving.Wait()
	})
	return lb
}

// tcpBackend answers each connection, once the client has half-closed it,
// with its name and what the client sent.
func tcpBackend(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, _ := io.ReadAll(c)
				io.WriteString(c, name+": "+string(b))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// unusedTCPAddr returns an address nothing listens on.
func unusedTCPAddr(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// ask sends msg on a new connection to addr, half-closes it and returns the
// whole answer.
func ask(t *testing.T, addr net.Addr, msg string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, msg)
	c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading the answer to %q: %v", msg, err)
	}
	return string(b)
}

func TestTCPProxy(t *testing.T) {
	lb := newTestLB(t)
	a, b := tcpBackend(t, "a"), tcpBackend(t, "b")
	targets := &lbTargets{}
	// The first target refuses: the proxy tries the next.
	targets.set([]netip.AddrPort{unusedTCPAddr(t), a, b})
	p, err := newTCPProxy(lbRoute{lb: lb, service: "ns/web", addr: netip.MustParseAddrPort("127.0.0.1:0"), targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	addr := p.ln.Addr()

	seen := map[string]int{}
	for i := range 6 {
		got := ask(t, addr, "hi")
		if got != "a: hi" && got != "b: hi" {
			t.Fatalf("connection %d answered %q", i, got)
		}
		seen[got[:1]]++
	}
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("connections were not spread: %v", seen)
	}

	// A connection open to a is left to finish when a stops being ready.
	open, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	io.WriteString(open, "still")
	time.Sleep(50 * time.Millisecond) // the proxy picks a target
	targets.set([]netip.AddrPort{b})
	for range 3 {
		if got := ask(t, addr, "x"); got != "b: x" {
			t.Errorf("after a left the targets: got %q", got)
		}
	}
	open.(*net.TCPConn).CloseWrite()
	open.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := io.ReadAll(open); err != nil || !strings.HasSuffix(string(got), ": still") {
		t.Errorf("connection open across the change: %q, %v", got, err)
	}

	// Delay applies before forwarding.
	lb.SetDelay(netip.MustParseAddr("127.0.0.1"), netip.Addr{}, 100*time.Millisecond)
	start := time.Now()
	ask(t, addr, "slow")
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("delayed connection answered in %s", took)
	}
	lb.SetDelay(netip.MustParseAddr("127.0.0.1"), netip.Addr{}, 0)

	// close with drop refuses new connections and cuts open ones.
	cut, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	time.Sleep(50 * time.Millisecond)
	p.close(true)
	cut.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := cut.Read(make([]byte, 1)); err == nil {
		t.Error("connection not cut by close(true)")
	}
	if c, err := net.Dial("tcp", addr.String()); err == nil {
		c.Close()
		t.Error("closed proxy accepted a connection")
	}
}

// udpBackend echoes each datagram prefixed with its name.
func udpBackend(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(append([]byte(name+": "), buf[:n]...), from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

func TestUDPForwarder(t *testing.T) {
	lb := newTestLB(t)
	a, b := udpBackend(t, "a"), udpBackend(t, "b")
	targets := &lbTargets{}
	targets.set([]netip.AddrPort{a, b})
	f, err := newUDPForwarder(lbRoute{lb: lb, service: "ns/dns", addr: netip.MustParseAddrPort("127.0.0.1:0"), targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close(true)
	lbAddr := f.ln.LocalAddr().(*net.UDPAddr)

	query := func(c *net.UDPConn, msg string) string {
		t.Helper()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1500)
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("query %q: %v", msg, err)
		}
		if from != lbAddr.AddrPort() {
			t.Errorf("reply came from %v, not the load balancer's %v", from, lbAddr)
		}
		return string(buf[:n])
	}

	// One client stays with its endpoint; two clients get both.
	c1, err := net.DialUDP("udp", nil, lbAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	first := query(c1, "q1")
	for range 3 {
		if got := query(c1, "q"); got[:1] != first[:1] {
			t.Errorf("session moved without cause: %q then %q", first, got)
		}
	}
	c2, err := net.DialUDP("udp", nil, lbAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if second := query(c2, "q2"); second[:1] == first[:1] {
		t.Errorf("two clients went to the same endpoint: %q and %q", first, second)
	}

	// The endpoint of c1 stops being ready: its next datagram goes to the
	// other one.
	other := b
	if first[:1] == "b" {
		other = a
	}
	targets.set([]netip.AddrPort{other})
	want := map[netip.AddrPort]string{a: "a", b: "b"}[other]
	if got := query(c1, "moved"); got != want+": moved" {
		t.Errorf("after its endpoint left: got %q, want %q", got, want+": moved")
	}

	f.close(true)
	c1.SetDeadline(time.Now().Add(500 * time.Millisecond))
	c1.Write([]byte("closed"))
	if _, err := c1.Read(make([]byte, 100)); err == nil {
		t.Error("closed forwarder answered")
	}
}
