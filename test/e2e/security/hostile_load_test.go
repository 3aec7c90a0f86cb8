//go:build e2e

package security

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fedlock"
)

// Issue 14, done-when 6, under load: applies that race, a manifest of
// thousands of objects, and an apply killed in the middle. Each ends with
// every object once in every member and once in the inventory, settled.

// hostileLocked is how a command that finds the federation's lock held
// says so.
const hostileLocked = "the federation is locked by kubectl fed apply"

// hostileRace starts an apply of each path at once and waits for both. An
// apply may be refused because the other holds the lock, with an error
// saying so; it is then run again, and must succeed. It returns how many
// were refused.
func hostileRace(t *testing.T, paths ...string) int {
	t.Helper()
	var running []<-chan hostileResult
	for _, p := range paths {
		_, done := hostileStart(t, "apply", "-f", p)
		running = append(running, done)
	}
	var refused []string
	for i, done := range running {
		res := <-done
		t.Logf("apply of %s: exit %d after %s", paths[i], res.ExitCode, res.Duration.Round(time.Millisecond))
		switch {
		case res.ExitCode == 0:
		case strings.Contains(res.Stderr, hostileLocked):
			refused = append(refused, paths[i])
			t.Logf("refused for the lock: %s", strings.TrimSpace(res.Stderr))
		default:
			t.Fatalf("apply of %s failed, and not for the lock:\n%.3000s", paths[i], res)
		}
	}
	if len(refused) == len(paths) {
		t.Fatal("every apply was refused for the lock")
	}
	for _, p := range refused {
		if again := hostileRun(t, "apply", "-f", p); again.ExitCode != 0 {
			t.Fatalf("the apply refused for the lock, run again once the other ended, fails:\n%.3000s", again)
		}
	}
	hostileLockFree(t)
	return len(refused)
}

// TestHostileConcurrentApplies applies, three times over, the same
// manifest twice at once, and two manifests of different objects in one
// namespace at once. Both applies end each time; one may be refused
// because the other holds the lock, and succeeds when run again; and
// every object is then in every member once, recorded once.
func TestHostileConcurrentApplies(t *testing.T) {
	const objects, rounds = 100, 3
	t.Run("the same manifest", func(t *testing.T) {
		const ns = "hostile-same"
		hostileCleanup(t, ns)
		path := hostileManifest(t, hostileConfigMaps(ns, "cm", objects))
		refused := 0
		for range rounds {
			refused += hostileRace(t, path, path)
			hostileSettled(t, ns, hostileKeys(nil, ns, "cm", objects))
		}
		t.Logf("%d rounds: %d applies refused for the lock", rounds, refused)
	})
	t.Run("different manifests into one namespace", func(t *testing.T) {
		const ns = "hostile-mixed"
		hostileCleanup(t, ns)
		refused := 0
		for r := range rounds {
			a := hostileManifest(t, hostileConfigMaps(ns, fmt.Sprintf("a%d", r), objects))
			b := hostileManifest(t, hostileConfigMaps(ns, fmt.Sprintf("b%d", r), objects))
			refused += hostileRace(t, a, b)
			want := map[string]bool{}
			for i := range r + 1 {
				hostileKeys(want, ns, fmt.Sprintf("a%d", i), objects)
				hostileKeys(want, ns, fmt.Sprintf("b%d", i), objects)
			}
			hostileSettled(t, ns, want)
		}
		t.Logf("%d rounds: %d applies refused for the lock", rounds, refused)
	})
}

// hostileHugeObjects is how many ConfigMaps TestHostileHugeManifest
// applies: KFED_E2E_HUGE_OBJECTS, or 1,000, which `make test` affords.
// Ten thousand take about six minutes on 2 cores (apply 2m, the same
// apply again 1m40s, delete 2m): each member's writes are held to the
// plugin's client rate limit of 100 a second.
func hostileHugeObjects(t *testing.T) int {
	v := os.Getenv("KFED_E2E_HUGE_OBJECTS")
	if v == "" {
		return 1000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("KFED_E2E_HUGE_OBJECTS=%q: want a count of objects", v)
	}
	return n
}

// TestHostileHugeManifest applies one file of many ConfigMaps in
// one namespace, applies it again unchanged, and deletes it, reporting each
// command's time and the plugin's peak memory. For the ten
// thousand: KFED_E2E_HUGE_OBJECTS=10000 make e2e E2E_ARGS='-run TestHostileHugeManifest'. Every object must land in
// every member once and be recorded once, settled.
func TestHostileHugeManifest(t *testing.T) {
	const ns = "hostile-huge"
	n := hostileHugeObjects(t)
	hostileCleanup(t, ns)
	path := hostileManifest(t, hostileConfigMaps(ns, "cm", n))
	if info, err := os.Stat(path); err == nil {
		t.Logf("%d ConfigMaps, %d KiB of YAML", n, info.Size()/1024)
	}
	var report []string
	for _, step := range []struct{ what, verb string }{{"apply", "apply"}, {"apply again, unchanged", "apply"}} {
		res := hostileRun(t, step.verb, "-f", path)
		if res.ExitCode != 0 {
			t.Fatalf("%s of %d objects:\n%.3000s", step.what, n, res)
		}
		report = append(report, fmt.Sprintf("%s: %s, peak RSS %.0f MiB", step.what, res.Duration.Round(time.Millisecond), res.PeakRSS))
		hostileSettled(t, ns, hostileKeys(nil, ns, "cm", n))
	}
	res := hostileRun(t, "delete", "-f", path)
	if res.ExitCode != 0 {
		t.Fatalf("delete of %d objects:\n%.3000s", n, res)
	}
	report = append(report, fmt.Sprintf("delete: %s, peak RSS %.0f MiB", res.Duration.Round(time.Millisecond), res.PeakRSS))
	if left := hostileRecords(t, ns); len(left) > 0 {
		t.Errorf("%d records left after delete -f", len(left))
	}
	hostileNamespaceGone(t, ns)
	t.Logf("%d ConfigMaps to %d members:\n  %s", n, len(members), strings.Join(report, "\n  "))
}

// TestHostileKilledApply kills `kubectl fed apply` with SIGKILL while it
// writes 1,000 ConfigMaps, leaving the federation's lock held by a process
// that is gone. The same apply, run at once, must take the lock over
// (its holder ran on this machine and is dead: see fedlock), not wait for
// it to expire, and converge: every object in every member, every record
// settled, none pending.
func TestHostileKilledApply(t *testing.T) {
	const ns, objects = "hostile-killed", 1000
	hostileCleanup(t, ns)
	path := hostileManifest(t, hostileConfigMaps(ns, "cm", objects))
	cmd, done := hostileStart(t, "apply", "-f", path)
	deadline := time.Now().Add(2 * time.Minute)
	for len(hostileHeld(t, "usa", ns)) < objects/5 {
		if time.Now().After(deadline) {
			t.Fatalf("usa holds %d of the %d ConfigMaps after 2 minutes", len(hostileHeld(t, "usa", ns)), objects)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	res := <-done
	t.Logf("apply killed after %s: exit %d", res.Duration.Round(time.Millisecond), res.ExitCode)
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the apply was not killed:\n%.3000s", res)
	}

	lease, err := hostileClient(hostCtx).CoordinationV1().Leases(v1alpha1.Namespace).Get(t.Context(), fedlock.Name(hostileFederation), metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || !strings.Contains(*lease.Spec.HolderIdentity, fmt.Sprintf("pid %d", cmd.Process.Pid)) {
		t.Fatalf("the killed apply does not hold the lock, so taking it over is not tried: %v %v", err, lease)
	}
	pending, held := 0, 0
	for _, rec := range hostileRecords(t, ns) {
		for _, c := range rec.Status.Clusters {
			if c.Action == v1alpha1.ActionPending {
				pending++
			}
		}
	}
	for _, m := range members {
		held += len(hostileHeld(t, m, ns))
	}
	t.Logf("left by the kill: %d ConfigMaps in the members, %d results pending in the inventory, the lock held by %s", held, pending, *lease.Spec.HolderIdentity)
	if pending == 0 || held == objects*len(members) {
		t.Errorf("the kill was not in the middle of the apply")
	}

	again := hostileRun(t, "apply", "-f", path)
	if again.ExitCode != 0 {
		t.Fatalf("the apply after the kill:\n%.3000s", again)
	}
	if again.Duration > fedlock.Duration {
		t.Errorf("the apply after the kill took %s: it waited for the dead holder's lock to expire", again.Duration)
	}
	hostileSettled(t, ns, hostileKeys(nil, ns, "cm", objects))
	hostileLockFree(t)
}
