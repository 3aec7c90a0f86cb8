//go:build e2e

package delegation_test

// The file's name puts its test before install_test.go's, whose last test
// unjoins jpn.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// queryRate is the load the servers get throughout, all three together.
const queryRate = 200

// TestReloadWithoutServFail is done-when 5: the servers of `dns install
// --all-clusters` under a steady load of UDP and TCP queries answer every
// one, with no SERVFAIL and no timeout, through ten reloads of a changed
// Corefile (every other one changes what the fed plugin watches, so that
// its new instance syncs from the start; the others hand the running
// watches over), through a re-run of install whose ConfigMap the test
// copies into the servers' Corefiles as a kubelet would, and through
// reloads by SIGUSR1.
func TestReloadWithoutServFail(t *testing.T) {
	in := setUp(t)
	dir := t.TempDir()

	type server struct {
		*framework.CoreDNS
		cluster string
		path    string
		reloads int
	}
	// reloadable makes a cluster's Corefile reload within seconds of a
	// change; the reload plugin's shortest interval is 2 s.
	reloadable := func(corefile string) string {
		return mustReplace(t, corefile, regexp.MustCompile(`(?m)^(\s*reload)\n`), "${1} 2s\n")
	}
	var servers []*server
	t.Cleanup(func() {
		var all []*framework.CoreDNS
		for _, s := range servers {
			all = append(all, s.CoreDNS)
		}
		stopAll(all)
	})
	for _, c := range testLab.Clusters {
		corefile, env := clusterCorefile(t, dir, c, in.server[c.Name])
		waitForPort53(t, in.server[c.Name])
		s, err := framework.StartCoreDNSWith(dir, c.Name, reloadable(corefile), 53, framework.CoreDNSOptions{Host: in.server[c.Name].String(), Env: env})
		if err != nil {
			t.Fatal(err)
		}
		srv := &server{CoreDNS: s, cluster: c.Name, path: filepath.Join(dir, "Corefile."+c.Name)}
		servers = append(servers, srv)
		t.Cleanup(func() {
			if t.Failed() {
				logTail(t, "coredns-fed of "+c.Name, s.LogPath)
			}
		})
	}
	for _, s := range servers {
		waitForAnswer(t, s.CoreDNS, "coredns-fed of "+s.cluster, in.app)
	}
	all := addrsOf(in.app, members...)

	// The load, spread over the servers, one query in three over TCP.
	// A TCP connection that the old instance accepted but had not read
	// from when it stopped is reset (miekg/dns's Server.ShutdownContext
	// closes it): that is the server's, not the fed plugin's, and a
	// client asks again at once, so the test does too and counts it.
	var sent, servfail, timeouts, failed, wrong, resets atomic.Int64
	var firstProblem atomic.Pointer[string]
	problem := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		firstProblem.CompareAndSwap(nil, &msg)
	}
	ctx, stopLoad := context.WithCancel(context.Background())
	var load sync.WaitGroup
	load.Go(func() {
		tick := time.NewTicker(time.Second / queryRate)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s := servers[i%len(servers)]
			proto := "udp"
			if i%3 == 0 {
				proto = "tcp"
			}
			sent.Add(1)
			load.Go(func() {
				r, err := ask(s.Addr, proto, appFQDN, dns.TypeA)
				if proto == "tcp" && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) {
					resets.Add(1)
					r, err = ask(s.Addr, proto, appFQDN, dns.TypeA)
				}
				var netErr net.Error
				switch {
				case errors.As(err, &netErr) && netErr.Timeout():
					timeouts.Add(1)
					problem("%s over %s: %v", s.cluster, proto, err)
				case err != nil:
					failed.Add(1)
					problem("%s over %s: %v", s.cluster, proto, err)
				case r.Rcode == dns.RcodeServerFailure:
					servfail.Add(1)
					problem("%s over %s: SERVFAIL", s.cluster, proto)
				case r.Rcode != dns.RcodeSuccess || !slices.Equal(framework.Addresses(r), all):
					wrong.Add(1)
					problem("%s over %s: %s %v", s.cluster, proto, dns.RcodeToString[r.Rcode], framework.Addresses(r))
				}
			})
		}
	})
	stop := func() {
		stopLoad()
		load.Wait()
	}
	defer stop()

	// reload writes each server's Corefile and waits until every server
	// has reloaded.
	reload := func(what string, corefiles map[string]string) {
		t.Helper()
		start := time.Now()
		for _, s := range servers {
			if err := os.WriteFile(s.path, []byte(corefiles[s.cluster]), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range servers {
			waitForReload(t, s.CoreDNS, s.reloads+1)
			s.reloads++
		}
		t.Logf("%s: every server reloaded within %s", what, time.Since(start).Round(time.Millisecond))
	}
	running := map[string]string{}
	for _, s := range servers {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		running[s.cluster] = string(data)
	}
	fedBlock := regexp.MustCompile(`(fed \{\$KFED_FEDERATION\} \{\n)`)
	startup := regexp.MustCompile(`startup_timeout \d+s`)
	lameduck := regexp.MustCompile(`lameduck \d+s`)
	for i := range 10 {
		for c, corefile := range running {
			if i%2 == 0 {
				// Harmless, and the fed plugin watches as before: its
				// new instance takes the running watches over.
				corefile = lameduck.ReplaceAllString(corefile, fmt.Sprintf("lameduck %ds", 6+(i/2)%4))
			} else if timeout := fmt.Sprintf("startup_timeout %ds", 10+i); startup.MatchString(corefile) {
				// The fed plugin's own option: its new instance syncs
				// from the start, while the old one answers.
				corefile = startup.ReplaceAllString(corefile, timeout)
			} else {
				corefile = fedBlock.ReplaceAllString(corefile, "${1}        "+timeout+"\n")
			}
			running[c] = corefile
		}
		reload(fmt.Sprintf("reload %d", i+1), running)
	}

	// install again, and copy its Corefile into each server's, as a
	// kubelet would.
	res := kubectl.Succeed(t, "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--timeout", "2m")
	t.Logf("install ran again in %s", res.Duration)
	fresh := map[string]string{}
	for _, c := range testLab.Clusters {
		corefile, _ := clusterCorefile(t, dir, c, in.server[c.Name])
		fresh[c.Name] = reloadable(corefile)
	}
	reload("the Corefiles of the re-run install", fresh)

	// SIGUSR1 reloads the same file. It comes last: the reload plugin's
	// poller of an instance replaced this way outlives it, and would
	// restart it again at the next change of the file.
	for i := range 3 {
		start := time.Now()
		for _, s := range servers {
			if err := s.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range servers {
			waitForReload(t, s.CoreDNS, s.reloads+1)
			s.reloads++
		}
		t.Logf("SIGUSR1 %d: every server reloaded within %s", i+1, time.Since(start).Round(time.Millisecond))
	}
	stop()

	t.Logf("%d queries at %d/s through %d reloads of each server, one in three over TCP: %d SERVFAIL, %d timed out, %d failed, %d other answers; %d TCP connections reset by a stopping instance, answered when asked again",
		sent.Load(), queryRate, servers[0].reloads, servfail.Load(), timeouts.Load(), failed.Load(), wrong.Load(), resets.Load())
	for _, s := range servers {
		t.Logf("coredns-fed of %s, fed plugin's startup waits: %s", s.cluster, strings.Join(startupWaits(t, s.CoreDNS), ", "))
	}
	if n := servfail.Load() + timeouts.Load() + failed.Load() + wrong.Load(); n > 0 {
		t.Errorf("%d SERVFAIL, %d timed out, %d failed, %d other answers; the first: %s", servfail.Load(), timeouts.Load(), failed.Load(), wrong.Load(), *firstProblem.Load())
	}
}

// waitForReload waits until the server has logged n completed reloads.
func waitForReload(t *testing.T, s *framework.CoreDNS, n int) {
	t.Helper()
	framework.Eventually(t, 20*time.Second, 100*time.Millisecond, fmt.Sprintf("reload %d of %s", n, s.Addr), func(context.Context) error {
		data, err := os.ReadFile(s.LogPath)
		if err != nil {
			return err
		}
		if got := strings.Count(string(data), "[INFO] Reloading complete"); got < n {
			return fmt.Errorf("%d reloads completed", got)
		}
		if strings.Contains(string(data), "[ERROR] Restart failed") {
			t.Fatalf("a reload of %s failed; see %s", s.Addr, s.LogPath)
		}
		return nil
	})
}

// startupWaits are what the fed plugin logged of each start's wait.
func startupWaits(t *testing.T, s *framework.CoreDNS) []string {
	t.Helper()
	data, err := os.ReadFile(s.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	waits := regexp.MustCompile(`(ready after a wait of|running watches and probes, ready in) (\S+)`).FindAllStringSubmatch(string(data), -1)
	var out []string
	for _, w := range waits {
		kind := "new"
		if strings.HasPrefix(w[1], "running") {
			kind = "handed over"
		}
		out = append(out, kind+" "+w[2])
	}
	return out
}
