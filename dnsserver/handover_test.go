package dnsserver

import (
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/store"
)

// nowhere is an address that refuses connections at once: a host or member
// there fails fast instead of holding back readiness.
const nowhere = "https://127.0.0.1:1"

func testStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.NewIn(&rest.Config{Host: snapHost}, "kfed-system", "kfed-dns")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func unreachableFed(startup time.Duration) *Fed {
	f := New("magicring", []string{"demo.example.com."})
	f.Watch.StartupTimeout = startup
	return f
}

// TestStartupWithoutHost: with neither the host nor a snapshot there is no
// serial, so nothing is published; the wait for it is bounded.
func TestStartupWithoutHost(t *testing.T) {
	f := unreachableFed(time.Second)
	start := time.Now()
	c, running, err := attachController(f, &rest.Config{Host: nowhere}, "dns://nohost:53")
	if err != nil || running {
		t.Fatalf("attach: running %v, %v", running, err)
	}
	defer detachController(f)
	if c.waitSynced() {
		t.Error("synced with neither the host nor a snapshot")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the wait took %s, over the startup timeout and a pass", took)
	}
	if f.Index() != nil {
		t.Error("an index was published without a serial")
	}
}

// TestStartupFromSnapshot: with the host down, the snapshot's serial and
// members are served once the members have answered or failed.
func TestStartupFromSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot")
	st := hostState{serial: 1700000042, members: []hostMember{{
		cluster:    Cluster{Name: "eur", Region: "eu-west-1"},
		secret:     "kfed-dns/eur-dns-reader",
		kubeconfig: []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + nowhere + "\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n"),
		services:   snapState().members[0].services,
	}}}
	data, err := encodeSnapshot("magicring", nowhere, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeSnapshot(path, data); err != nil {
		t.Fatal(err)
	}
	f := unreachableFed(30 * time.Second)
	f.Watch.Snapshot = path
	start := time.Now()
	c, _, err := attachController(f, &rest.Config{Host: nowhere}, "dns://snapshot:53")
	if err != nil {
		t.Fatal(err)
	}
	defer detachController(f)
	if !c.waitSynced() {
		t.Fatal("not synced from the snapshot")
	}
	t.Logf("synced from the snapshot in %s", time.Since(start))
	if time.Since(start) > 10*time.Second {
		t.Errorf("synced after %s: the failing host and member should not have held it back", time.Since(start))
	}
	idx := f.Index()
	if idx == nil || idx.Serial() != st.serial {
		t.Fatalf("published %v, want the snapshot's serial %d", idx, st.serial)
	}
	// The member does not answer either: what it serves comes from the
	// snapshot, and its entry point's health from the probe.
	svc := idx.Service("demo", "web")
	if svc == nil || svc.Cluster("eur") == nil || len(svc.Cluster("eur").EntryPoints) != 1 {
		t.Fatalf("the snapshot's Service demo/web in eur is not in the index: %+v", svc)
	}
}

// TestHandover: a reload's new Fed that watches the same things takes the
// running controller over, with its index at once; the controller stops
// with its last Fed; a failed reload's Feds are detached.
func TestHandover(t *testing.T) {
	hostCfg := &rest.Config{Host: nowhere}
	const server = "dns://handover:53"
	old := unreachableFed(time.Second)
	c, _, err := attachController(old, hostCfg, server)
	if err != nil {
		t.Fatal(err)
	}
	idx := BuildIndex(nil, testSerial)
	c.publish(idx)

	_ = restartBegins()
	renewed := unreachableFed(time.Second)
	c2, running, err := attachController(renewed, hostCfg, server)
	if err != nil {
		t.Fatal(err)
	}
	if !running || c2 != c {
		t.Fatal("the same watches got a new controller")
	}
	if renewed.Index() != idx {
		t.Error("the new Fed does not answer at once from the running controller's index")
	}
	if err := detachController(old); err != nil {
		t.Fatal(err)
	}
	if c.ctxDone() {
		t.Fatal("the controller stopped with a Fed still attached")
	}
	idx2 := BuildIndex(nil, testSerial+1)
	c.publish(idx2)
	if renewed.Index() != idx2 || old.Index() != idx {
		t.Error("after the old Fed detached, publications go to the wrong Feds")
	}

	// A reload that changes a probe option gets a controller of its own,
	// which a failed restart stops again.
	_ = restartBegins()
	changed := unreachableFed(time.Second)
	changed.Watch.ProbeInterval = 2 * time.Second
	c3, running, err := attachController(changed, hostCfg, server)
	if err != nil {
		t.Fatal(err)
	}
	if running || c3 == c {
		t.Fatal("other probe options share the running controller")
	}
	if err := restartFailed(); err != nil {
		t.Fatal(err)
	}
	if !c3.ctxDone() || c.ctxDone() {
		t.Errorf("after a failed restart: its controller stopped %v, the running one stopped %v; want true, false", c3.ctxDone(), c.ctxDone())
	}

	if err := detachController(renewed); err != nil {
		t.Fatal(err)
	}
	if !c.ctxDone() {
		t.Error("the controller runs on with no Fed attached")
	}
	controllers.Lock()
	n := len(controllers.byKey)
	controllers.Unlock()
	if n != 0 {
		t.Errorf("%d controllers left running", n)
	}
}

// ctxDone reports whether the controller was stopped.
func (c *controller) ctxDone() bool { return c.prober.ctx.Err() != nil }
