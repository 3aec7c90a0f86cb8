package dnsserver

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func testProber(t *testing.T, onChange func()) *prober {
	t.Helper()
	p := newProber("dns://:53", WatchOptions{
		ProbeInterval: 50 * time.Millisecond, ProbeTimeout: 50 * time.Millisecond,
		UnhealthyThreshold: 2, HealthyThreshold: 2, ProbeConcurrency: 4,
	}, onChange)
	t.Cleanup(p.Stop)
	return p
}

func hostPort(t *testing.T, addr string) (string, uint16) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return host, uint16(n)
}

// waitFor polls cond for up to two seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProberTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	host, port := hostPort(t, l.Addr().String())
	var changes atomic.Int32
	p := testProber(t, func() { changes.Add(1) })
	target := probeTarget{Cluster: "usa", probeEndpoint: probeEndpoint{Type: probeTCP, Host: host, Port: port}}
	if up, known := p.Status(target); up || known {
		t.Fatalf("unknown target: up %v known %v", up, known)
	}
	p.Add(target)
	waitFor(t, "the first result", func() bool { up, _ := p.Status(target); return up })

	// Refused connections take it down after two failures.
	l.Close()
	start := time.Now()
	waitFor(t, "down", func() bool { up, _ := p.Status(target); return !up })
	if d := time.Since(start); d < minConfirm-10*time.Millisecond {
		t.Errorf("down after %s: one failure was enough", d)
	}

	// Gone from the set, it is forgotten.
	p.Remove(target)
	if _, known := p.Status(target); known {
		t.Error("target still known after it left the set")
	}
	if changes.Load() < 2 {
		t.Errorf("%d changes reported, want at least 2", changes.Load())
	}
}

func TestProberHTTP(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	host, port := hostPort(t, srv.Listener.Addr().String())
	p := testProber(t, func() {})
	target := probeTarget{Cluster: "eur", probeEndpoint: probeEndpoint{Type: probeHTTP, Host: host, Port: port, Path: "/healthz"}}
	p.Add(target)
	waitFor(t, "up", func() bool { up, _ := p.Status(target); return up })
	healthy.Store(false)
	waitFor(t, "down on 503", func() bool { up, _ := p.Status(target); return !up })
	healthy.Store(true)
	waitFor(t, "up again", func() bool { up, _ := p.Status(target); return up })
}

func TestProberHysteresis(t *testing.T) {
	p := testProber(t, func() {})
	pr := &probe{}
	fail := errors.New("refused")
	steps := []struct {
		err         error
		changed, up bool
	}{
		{nil, true, true},    // first result counts at once
		{fail, false, true},  // one failure is not enough
		{nil, false, true},   // and a success resets the count
		{fail, false, true},  //
		{fail, true, false},  // two in a row
		{nil, false, false},  // one success is not enough
		{fail, false, false}, //
		{nil, false, false},  //
		{nil, true, true},    // two in a row
	}
	for i, s := range steps {
		changed := p.recordLocked(pr, s.err, time.Millisecond)
		if changed != s.changed || pr.up != s.up {
			t.Fatalf("step %d: changed %v up %v, want %v %v", i, changed, pr.up, s.changed, s.up)
		}
	}
}

// TestProberStaysOnItsAddress checks that an HTTP probe does not follow a
// redirect: the entry point's answer counts, and the address it points to
// is never contacted.
func TestProberStaysOnItsAddress(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	defer other.Close()
	var probed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probed.Add(1)
		http.Redirect(w, r, other.URL+"/admin", http.StatusFound)
	}))
	defer srv.Close()
	host, port := hostPort(t, srv.Listener.Addr().String())
	p := testProber(t, func() {})
	target := probeTarget{Cluster: "eur", probeEndpoint: probeEndpoint{Type: probeHTTP, Host: host, Port: port, Path: "/healthz"}}
	p.Add(target)
	waitFor(t, "three probes", func() bool { return probed.Load() >= 3 })
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the probe followed a redirect off its address %d times", n)
	}
}

// countingListener accepts and closes connections, counting them.
func countingListener(t *testing.T) (net.Listener, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return l, &n
}

// TestProberSharesEndpoints: members and Services that use the same address
// and port share one probe, which stops only when the last lets go.
func TestProberSharesEndpoints(t *testing.T) {
	l, conns := countingListener(t)
	host, port := hostPort(t, l.Addr().String())
	p := testProber(t, func() {})
	ep := probeEndpoint{Type: probeTCP, Host: host, Port: port}
	usa, eur := probeTarget{Cluster: "usa", probeEndpoint: ep}, probeTarget{Cluster: "eur", probeEndpoint: ep}
	for range 10 {
		p.Add(usa)
	}
	p.Add(eur)
	waitFor(t, "up", func() bool { up, _ := p.Status(eur); return up })
	time.Sleep(300 * time.Millisecond)
	// 50 ms apart with jitter: about 6 probes, not 66.
	if n := conns.Load(); n > 10 {
		t.Errorf("%d connections in 300ms for one endpoint: probes are not shared", n)
	}
	if got := p.Changed(); len(got) != 2 {
		t.Errorf("changed %v, want the endpoint once per member", got)
	}
	if rtts := p.RTTs(); rtts["usa"] == 0 || rtts["eur"] == 0 {
		t.Errorf("round trips %v, want both members", rtts)
	}
	p.Remove(eur)
	for range 9 {
		p.Remove(usa)
	}
	if _, known := p.Status(usa); !known {
		t.Fatal("the endpoint was forgotten while a Service still uses it")
	}
	p.Remove(usa)
	if _, known := p.Status(usa); known {
		t.Fatal("the endpoint is still probed with no user")
	}
}

// TestProberInterval: past the probe rate, the interval stretches so that
// the endpoints together stay within it.
func TestProberInterval(t *testing.T) {
	p := &prober{interval: 500 * time.Millisecond, rate: 1000, probes: map[probeEndpoint]*probe{}}
	for i := range 3000 {
		p.probes[probeEndpoint{Host: strconv.Itoa(i)}] = &probe{}
	}
	if got := p.intervalLocked(); got != 3*time.Second {
		t.Errorf("3,000 endpoints at 1,000 a second: interval %s, want 3s", got)
	}
	clear(p.probes)
	p.probes[probeEndpoint{}] = &probe{}
	if got := p.intervalLocked(); got != 500*time.Millisecond {
		t.Errorf("one endpoint: interval %s, want the configured 500ms", got)
	}
	// A failure of an endpoint that is up is confirmed soon; one of an
	// endpoint already down waits its turn.
	up := &probe{up: true, failures: 1}
	if d := p.delayLocked(up, errors.New("refused")); d != minConfirm {
		t.Errorf("confirming a failure after %s, want %s", d, minConfirm)
	}
	down := &probe{failures: 3}
	if d := p.delayLocked(down, errors.New("refused")); d < 450*time.Millisecond {
		t.Errorf("a down endpoint probed again after %s", d)
	}
}
