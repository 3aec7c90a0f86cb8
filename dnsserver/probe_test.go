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

	"github.com/prometheus/client_golang/prometheus/testutil"
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
	target := probeTarget{Cluster: "usa", Type: probeTCP, Host: host, Port: port}
	if up, known := p.Status(target); up || known {
		t.Fatalf("unknown target: up %v known %v", up, known)
	}
	p.Sync(map[probeTarget]struct{}{target: {}})
	waitFor(t, "the first result", func() bool { up, _ := p.Status(target); return up })

	// Refused connections take it down after two failures, as the
	// failures counted by then tell (time would not: a probe that
	// started before the close may fail just after it).
	failures := probeFailures.WithLabelValues(p.server, target.Cluster, target.Type)
	before := testutil.ToFloat64(failures)
	l.Close()
	waitFor(t, "down", func() bool { up, _ := p.Status(target); return !up })
	if n := testutil.ToFloat64(failures) - before; n < 2 {
		t.Errorf("down after %v failed probes: one failure was enough", n)
	}

	// Gone from the set, it is forgotten.
	p.Sync(nil)
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
	target := probeTarget{Cluster: "eur", Type: probeHTTP, Host: host, Port: port, Path: "/healthz"}
	p.Sync(map[probeTarget]struct{}{target: {}})
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
		changed := p.record(pr, s.err)
		if changed != s.changed || pr.up.Load() != s.up {
			t.Fatalf("step %d: changed %v up %v, want %v %v", i, changed, pr.up.Load(), s.changed, s.up)
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
	target := probeTarget{Cluster: "eur", Type: probeHTTP, Host: host, Port: port, Path: "/healthz"}
	p.Sync(map[probeTarget]struct{}{target: {}})
	waitFor(t, "three probes", func() bool { return probed.Load() >= 3 })
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the probe followed a redirect off its address %d times", n)
	}
}
