//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Issue 13, done-when 1 and 5: a member that hangs in the middle of an
// apply, an apply killed in the middle, and objects every member refuses.
// The inventory must know every object a member holds, and nothing no
// member holds.

// TestFrozenMemberMidApply freezes jpn's API server in the middle of an
// apply of 1,000 ConfigMaps: it accepts connections and answers nothing.
// The apply must end within its request timeout, report jpn failed and
// usa and eur complete, and the inventory must know every ConfigMap jpn
// holds once thawed. A re-run then brings jpn everything.
func TestFrozenMemberMidApply(t *testing.T) {
	const ns, objects = "frozen", 1000
	path := configMaps(t, ns, objects)
	jpn := testLab.Cluster("jpn")
	t.Cleanup(func() {
		if jpn.APIServerFrozen() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := jpn.ThawAPIServer(ctx); err != nil {
				t.Errorf("thawing jpn: %v", err)
			}
		}
		deleteAll(t, path)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	started := time.Now()
	apply := kubectl.Start(ctx, "fed", "apply", "-f", path, "--context", hostCtx)
	waitHeld(t, "jpn", ns, 150)
	if err := jpn.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	res := <-apply
	ended := time.Since(frozen)
	t.Logf("apply ran %s, of which %s after jpn froze; exit %d", time.Since(started).Round(time.Millisecond), ended.Round(time.Millisecond), res.ExitCode)
	if res.ExitCode <= 0 {
		t.Fatalf("apply with jpn frozen: want exit 1\n%s", res)
	}
	// The default request timeout, then the records of what jpn did not
	// finish, and the table.
	if bound := 30*time.Second + 30*time.Second; ended > bound {
		t.Errorf("apply ended %s after jpn froze, want within %s", ended, bound)
	}
	if !strings.Contains(res.Stderr, "in jpn;") || strings.Contains(res.Stderr, "in eur") || strings.Contains(res.Stderr, "in usa") {
		t.Errorf("the error does not name jpn alone as failed:\n%s", res.Stderr)
	}
	if !strings.Contains(res.Stdout, "cluster jpn stopped answering: no answer within 30s") {
		t.Errorf("the table does not say that jpn stopped answering:\n%.3000s", res.Stdout)
	}
	for _, m := range []string{"eur", "usa"} {
		if strings.Contains(res.Stdout, " "+m+" failed") {
			t.Errorf("%s failed somewhere while jpn was frozen", m)
		}
	}

	thawCtx, thawCancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer thawCancel()
	if err := jpn.ThawAPIServer(thawCtx); err != nil {
		t.Fatal(err)
	}
	records := checkKnown(t, ns)
	if len(records) != objects {
		t.Errorf("%d of the %d ConfigMaps recorded", len(records), objects)
	}
	for _, m := range []string{"eur", "usa"} {
		held, err := heldIn(context.Background(), m, ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(held) != objects {
			t.Errorf("%s holds %d of the %d ConfigMaps", m, len(held), objects)
		}
		if got := actionsIn(records, m); !reflect.DeepEqual(got, map[string]int{v1alpha1.ActionCreated: objects}) {
			t.Errorf("the inventory says %v in %s, want every one created", got, m)
		}
	}
	if n := actionsIn(records, "jpn")[v1alpha1.ActionPending]; n > 0 {
		t.Errorf("%d records still pending in jpn after the apply ended", n)
	}

	// A re-run finishes the job.
	fed(t, "apply", "-f", path)
	held, err := heldIn(context.Background(), "jpn", ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != objects {
		t.Errorf("after a re-run jpn holds %d of the %d ConfigMaps", len(held), objects)
	}
}

// TestKilledApply kills `kubectl fed apply` with SIGKILL in the middle of
// writing 1,000 ConfigMaps: every ConfigMap any member holds must be known
// to the inventory, and `kubectl fed delete -f` of the same file must
// remove them all.
func TestKilledApply(t *testing.T) {
	const ns, objects = "killed", 1000
	path := configMaps(t, ns, objects)
	cmd := exec.Command(kubectl.Path, "fed", "apply", "-f", path, "--context", hostCtx, "--kubeconfig", kubectl.Kubeconfig)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubectl.Kubeconfig)
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	waitHeld(t, "usa", ns, 100)
	// kubectl execs the plugin, so its process is the plugin's.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		t.Logf("apply killed %s after it started: %v", time.Since(started).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("apply still runs 10s after SIGKILL")
	}
	// Requests sent before the kill may still be carried out.
	time.Sleep(2 * time.Second)
	records := checkKnown(t, ns)
	total := 0
	for _, m := range members {
		held, err := heldIn(context.Background(), m, ns)
		if err != nil {
			t.Fatal(err)
		}
		total += len(held)
	}
	if total == 0 || total == objects*len(members) {
		t.Errorf("members hold %d ConfigMaps in all: the kill was not in the middle of the writes", total)
	}
	t.Logf("%d records", len(records))

	// diff and sync see every object, those the kill left half-written
	// included: diff without an error, sync writing them everywhere.
	res := unlocked(t, "diff", "-f", path)
	if res.ExitCode != 1 || strings.Contains(res.Stderr, "error:") {
		t.Errorf("diff after the kill: want exit 1 and differences only\n%.3000s", res)
	}
	res = unlocked(t, "sync")
	for _, m := range members {
		if got := rows(res.Stdout, ns+"/configmap/cm-0999"); len(got) != len(members) || strings.Contains(strings.Join(got, ","), "failed") {
			t.Errorf("sync after the kill, cm-0999: rows %v\n%.3000s", got, res)
		}
		held, err := heldIn(context.Background(), m, ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(held) != objects {
			t.Errorf("after sync %s holds %d of the %d ConfigMaps", m, len(held), objects)
		}
	}

	deleteAll(t, path)
	for _, m := range members {
		held, err := heldIn(context.Background(), m, ns)
		if err != nil {
			t.Fatal(err)
		}
		if len(held) > 0 {
			t.Errorf("%s still holds %d ConfigMaps after delete -f", m, len(held))
		}
	}
	if left := recorded(t, ns); len(left) > 0 {
		t.Errorf("%d records left after delete -f", len(left))
	}
}

// TestApplyRefusedEverywhere applies ConfigMaps that every member refuses
// (their content: apply refuses bad names itself, before any write), next
// to one they accept: the refused are reported with the members' own
// errors and are not recorded; the accepted one is.
func TestApplyRefusedEverywhere(t *testing.T) {
	const ns = "refused-apply"
	path := manifest(t, fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: cm-fine, namespace: %[1]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-bad-key, namespace: %[1]s}
data: {"bad key": x}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-twice, namespace: %[1]s}
data: {k: a}
binaryData: {k: YQ==}
`, ns))
	t.Cleanup(func() {
		kubectl.Run(context.Background(), "fed", "delete", "configmap", "cm-fine", "-n", ns, "--context", hostCtx)
	})
	res := fedFail(t, "apply", "-f", path)
	all := []string{"eur failed -", "jpn failed -", "usa failed -"}
	for name, want := range map[string]string{
		"cm-bad-key": "a valid config key must consist of",
		"cm-twice":   "duplicate of key present in binaryData",
	} {
		if got := rows(res.Stdout, ns+"/configmap/"+name); !reflect.DeepEqual(got, all) {
			t.Errorf("%.20s: rows %v, want %v", name, got, all)
		}
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("the members' error %q is not shown:\n%s", want, res.Stdout)
		}
	}
	if got := rows(res.Stdout, ns+"/configmap/cm-fine"); !reflect.DeepEqual(got, []string{"eur created -", "jpn created -", "usa created -"}) {
		t.Errorf("cm-fine: rows %v", got)
	}
	if !strings.Contains(res.Stderr, "6 of 9 writes failed, in eur, jpn, usa") {
		t.Errorf("the error does not sum up the failures:\n%s", res.Stderr)
	}
	records := recorded(t, ns)
	if len(records) != 1 || records["cm-fine"] == nil {
		var names []string
		for n := range records {
			names = append(names, n)
		}
		t.Errorf("recorded %v, want cm-fine alone", names)
	}
	// Applied again, still nothing recorded and nothing promised.
	fedFail(t, "apply", "-f", path)
	if records := recorded(t, ns); len(records) != 1 {
		t.Errorf("after a second apply, %d records, want 1", len(records))
	}
}

// TestFrozenMemberMidDelete freezes jpn's API server in the middle of a
// delete of 1,000 ConfigMaps: the delete must end within its request
// timeout, finish usa and eur, and leave the deletions in jpn recorded as
// pending, for sync to finish once jpn is thawed.
func TestFrozenMemberMidDelete(t *testing.T) {
	const ns, objects = "frozen-delete", 1000
	path := configMaps(t, ns, objects)
	jpn := testLab.Cluster("jpn")
	thaw := func() {
		if jpn.APIServerFrozen() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := jpn.ThawAPIServer(ctx); err != nil {
				t.Errorf("thawing jpn: %v", err)
			}
		}
	}
	t.Cleanup(func() {
		thaw()
		unlocked(t, "delete", "-f", path, "--force")
	})
	fed(t, "apply", "-f", path)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	del := kubectl.Start(ctx, "fed", "delete", "-f", path, "--context", hostCtx)
	eventually(t, 2*time.Minute, "jpn losing some of the ConfigMaps", func(ctx context.Context) error {
		held, err := heldIn(ctx, "jpn", ns)
		if err != nil {
			return err
		}
		if len(held) > objects-150 {
			return fmt.Errorf("%d left", len(held))
		}
		return nil
	})
	if err := jpn.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	res := <-del
	ended := time.Since(frozen)
	t.Logf("delete ended %s after jpn froze; exit %d", ended.Round(time.Millisecond), res.ExitCode)
	if res.ExitCode <= 0 {
		t.Fatalf("delete with jpn frozen: want exit 1\n%s", res)
	}
	if bound := 30*time.Second + 30*time.Second; ended > bound {
		t.Errorf("delete ended %s after jpn froze, want within %s", ended, bound)
	}
	if !strings.Contains(res.Stdout, "jpn       pending-deletion") || !strings.Contains(res.Stdout, "cluster jpn stopped answering") {
		t.Errorf("the table does not show jpn's deletions pending because it stopped answering:\n%.3000s", res.Stdout)
	}
	thaw()
	for _, m := range []string{"eur", "usa"} {
		if held, err := heldIn(context.Background(), m, ns); err != nil || len(held) > 0 {
			t.Errorf("%s still holds %d ConfigMaps (%v)", m, len(held), err)
		}
	}
	records := checkKnown(t, ns)
	if got := actionsIn(records, "jpn"); len(got) != 1 || got[v1alpha1.ActionPendingDeletion] == 0 {
		t.Errorf("the inventory says %v in jpn, want only pending deletions", got)
	}

	unlocked(t, "sync")
	if held, err := heldIn(context.Background(), "jpn", ns); err != nil || len(held) > 0 {
		t.Errorf("after sync jpn still holds %d ConfigMaps (%v)", len(held), err)
	}
	if left := recorded(t, ns); len(left) > 0 {
		t.Errorf("%d records left after sync", len(left))
	}
}

// TestFrozenHostMidApply freezes the host's API server (usa's, which is a
// member too) in the middle of an apply of 1,000 ConfigMaps: the apply
// must end within its request timeout and say that the host stopped
// answering; once the host is thawed, the inventory knows every ConfigMap
// any member holds, since each was journalled before it was written, and
// a re-run completes.
func TestFrozenHostMidApply(t *testing.T) {
	const ns, objects = "frozen-host", 1000
	path := configMaps(t, ns, objects)
	host := testLab.Cluster(hostCtx)
	thaw := func() {
		if host.APIServerFrozen() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := host.ThawAPIServer(ctx); err != nil {
				t.Errorf("thawing %s: %v", hostCtx, err)
			}
		}
	}
	t.Cleanup(func() {
		thaw()
		deleteAll(t, path)
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	apply := kubectl.Start(ctx, "fed", "apply", "-f", path, "--context", hostCtx)
	waitHeld(t, "jpn", ns, 150)
	if err := host.FreezeAPIServer(); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	res := <-apply
	ended := time.Since(frozen)
	t.Logf("apply ended %s after the host froze; exit %d; stderr:\n%s", ended.Round(time.Millisecond), res.ExitCode, res.Stderr)
	if res.ExitCode <= 0 {
		t.Fatalf("apply with the host frozen: want exit 1\n%s", res)
	}
	// The request timeout, and the lock's release, which waits 10s.
	if bound := 30*time.Second + 30*time.Second; ended > bound {
		t.Errorf("apply ended %s after the host froze, want within %s", ended, bound)
	}
	if !strings.Contains(res.Stderr, "the host stopped answering") {
		t.Errorf("the error does not say that the host stopped answering:\n%s", res.Stderr)
	}
	thaw()
	checkKnown(t, ns)
	if res := unlocked(t, "apply", "-f", path); res.ExitCode != 0 {
		t.Fatalf("apply again once the host answers:\n%s", res)
	}
	for _, m := range members {
		if held, err := heldIn(context.Background(), m, ns); err != nil || len(held) != objects {
			t.Errorf("after a re-run %s holds %d of the %d ConfigMaps (%v)", m, len(held), objects, err)
		}
	}
}
