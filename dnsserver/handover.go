package dnsserver

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// A reload (the reload plugin, or SIGUSR1) makes a new caddy instance, with
// a new Fed, and runs its OnStartup callbacks while the old instance still
// serves; the old instance's OnShutdown callbacks run once the new one has
// taken over the listeners. So a controller is kept by what it watches, and
// a new Fed that watches the same federation the same way attaches to the
// running controller instead of starting one: the controller publishes to
// both for a moment, and stops when the last Fed detaches. A reload that
// changes nothing the controller depends on costs no list, no watch and no
// probe, and loses nothing the old instance knew, even with the host down.
// Any other reload starts a new controller, and OnStartup waits for its
// first sync while the old instance answers.

// controllerKey is what a controller depends on.
type controllerKey struct {
	federation string
	server     string
	watch      WatchOptions
	// host is a digest of the host's client configuration: a new token
	// or server in the kubeconfig is a new controller.
	host [sha256.Size]byte
}

// controllers are the running controllers.
var controllers = struct {
	sync.Mutex
	byKey map[controllerKey]*controller
	// attached are the Feds attached since the last restart began. A
	// restart that fails after their OnStartup runs no OnShutdown for
	// them, so the old instance's OnRestartFailed detaches them.
	attached []*Fed
}{byKey: map[controllerKey]*controller{}}

// attachController attaches f to the running controller that watches what
// f needs, or starts one, and reports which it did.
func attachController(f *Fed, hostCfg *rest.Config, server string) (c *controller, running bool, err error) {
	key := controllerKey{federation: f.Federation, server: server, watch: f.Watch, host: hostDigest(hostCfg)}
	controllers.Lock()
	defer controllers.Unlock()
	c, running = controllers.byKey[key]
	if !running {
		if c, err = newController(f.Federation, f.Watch, hostCfg, server); err != nil {
			return nil, false, err
		}
		if err = c.Start(); err != nil {
			return nil, false, err
		}
		c.key = key
		controllers.byKey[key] = c
	}
	c.attach(f)
	f.ctrl = c
	controllers.attached = append(controllers.attached, f)
	return c, running, nil
}

// detachController detaches f from its controller, and stops the controller
// if f was the last to use it.
func detachController(f *Fed) error {
	controllers.Lock()
	c := f.ctrl
	if c == nil {
		controllers.Unlock()
		return nil
	}
	f.ctrl = nil
	last := c.detach(f) == 0
	if last {
		delete(controllers.byKey, c.key)
	}
	controllers.Unlock()
	if !last {
		return nil
	}
	return c.Stop()
}

// restartBegins is the old instance's OnRestart.
func restartBegins() error {
	controllers.Lock()
	defer controllers.Unlock()
	controllers.attached = nil
	return nil
}

// restartFailed is the old instance's OnRestartFailed: the new instance
// is dropped without its OnShutdown, so its Feds are detached here, from
// their controllers and their explain listeners. A Fed starts its
// listener only once attached to its controller, so these are all the
// Feds that may hold one.
func restartFailed() error {
	controllers.Lock()
	feds := controllers.attached
	controllers.attached = nil
	controllers.Unlock()
	for _, f := range feds {
		if err := detachController(f); err != nil {
			return err
		}
		if err := stopExplain(f); err != nil {
			return err
		}
	}
	return nil
}

// hostDigest is a digest of what reaches and authenticates to the host.
func hostDigest(cfg *rest.Config) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{
		cfg.Host, cfg.APIPath, cfg.ServerName, cfg.Username, cfg.Password, cfg.BearerToken, cfg.BearerTokenFile,
		cfg.CertFile, cfg.KeyFile, cfg.CAFile, string(cfg.CertData), string(cfg.KeyData), string(cfg.CAData),
		fmt.Sprint(cfg.Insecure, cfg.Impersonate.UserName, cfg.Impersonate.UID, cfg.Impersonate.Groups),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if cfg.ExecProvider != nil {
		fmt.Fprintf(h, "%+v", *cfg.ExecProvider)
	}
	if cfg.AuthProvider != nil {
		fmt.Fprintf(h, "%+v", *cfg.AuthProvider)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// attach makes f answer from this controller's indexes, at once from the
// last one if there is one.
func (c *controller) attach(f *Fed) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feds = append(c.feds, f)
	if f.Policy != nil {
		f.Policy.RTT.Store(c.prober.RTTs())
	}
	if c.last != nil {
		f.SetIndex(c.last)
	}
	if c.keys != nil {
		f.useHostKeys(c.keys)
	}
}

// detach stops publishing to f, and reports how many Feds are left.
func (c *controller) detach(f *Fed) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.feds = slices.DeleteFunc(c.feds, func(g *Fed) bool { return g == f })
	return len(c.feds)
}

// publish makes idx the index of every attached Fed.
func (c *controller) publish(idx *Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last = idx
	for _, f := range c.feds {
		f.SetIndex(idx)
	}
}

// storeRTTs hands the probes' round trips to the latency policy.
func (c *controller) storeRTTs() {
	rtts := c.prober.RTTs()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.feds {
		if f.Policy != nil {
			f.Policy.RTT.Store(rtts)
		}
	}
}

// waitSynced waits for the first index, for at most the startup timeout and
// the loop's next pass after it, and reports whether it came.
func (c *controller) waitSynced() bool {
	t := time.NewTimer(c.opts.StartupTimeout + 2*settleTick)
	defer t.Stop()
	select {
	case <-c.synced:
		return true
	case <-t.C:
		return false
	}
}
