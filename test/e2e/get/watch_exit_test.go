//go:build e2e

package get

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestGetWatchExitAsKubectl ends kubectl get --watch of one member and
// kubectl fed get --watch of the federation the same ways, and checks that
// they exit alike.
func TestGetWatchExitAsKubectl(t *testing.T) {
	namespace(t, "watchexit")
	for _, c := range members {
		create(t, c, configMap("here", "watchexit", "exit", "a: 'x'"))
	}
	// kubectl get ARGS in eur.
	direct := func(args ...string) []string {
		return append(append([]string{"get"}, args...), "--context", "eur")
	}
	listed := func(stdout, _ string) error {
		if !strings.Contains(stdout, "here") {
			return fmt.Errorf("nothing listed")
		}
		return nil
	}

	t.Run("interrupt", func(t *testing.T) {
		args := []string{"configmaps", "-n", "watchexit", "-w"}
		k, fed := startKubectl(t, direct(args...)...), startWatch(t, args...)
		k.waitFor(t, 30*time.Second, "kubectl's listing", listed)
		fed.waitFor(t, 30*time.Second, "kubectl fed's listing", listed)
		// kubectl handles signals once its watch has begun, after the
		// listing.
		time.Sleep(2 * time.Second)
		kc, fc := k.interrupt(t), fed.interrupt(t)
		if fc != kc || fc != 1 {
			t.Errorf("interrupted, kubectl fed get -w exits %d and kubectl get -w %d, want both 1", fc, kc)
		}
		if _, stderr := fed.output(); stderr != "" {
			t.Errorf("stderr %q, want none", stderr)
		}
	})

	t.Run("request timeout", func(t *testing.T) {
		args := []string{"configmaps", "-n", "watchexit", "-w", "--request-timeout", "5s"}
		k, fed := startKubectl(t, direct(args...)...), startWatch(t, args...)
		kc, fc := k.wait(t, 30*time.Second), fed.wait(t, 30*time.Second)
		if fc != kc || fc != 0 {
			t.Errorf("at --request-timeout, kubectl fed get -w exits %d and kubectl get -w %d, want both 0", fc, kc)
		}
		if stdout, stderr := fed.output(); !strings.Contains(stdout, "here") || stderr != "" {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
	})

	for _, tc := range []struct {
		flags []string
		want  int
	}{
		{[]string{"-w"}, 1},
		{[]string{"--watch-only"}, 1},
		{[]string{"-w", "--ignore-not-found"}, 0},
		{[]string{"--watch-only", "--ignore-not-found"}, 0},
	} {
		t.Run("not found "+strings.Join(tc.flags, " "), func(t *testing.T) {
			args := append([]string{"configmap", "nowhere", "-n", "watchexit"}, tc.flags...)
			k, err := kubectl.Run(t.Context(), direct(args...)...)
			if err != nil {
				t.Fatal(err)
			}
			fed, err := kubectl.Run(t.Context(), append(append([]string{"fed", "get"}, args...), "--context", hostCtx)...)
			if err != nil {
				t.Fatal(err)
			}
			if fed.ExitCode != k.ExitCode || fed.ExitCode != tc.want {
				t.Errorf("kubectl fed get exits %d, kubectl get %d, want both %d\n%s\n%s", fed.ExitCode, k.ExitCode, tc.want, fed, k)
			}
		})
	}
}

// TestGetWatchMemberDownExit stops a member's API server while the
// federation is watched: the other members' rows are still printed, and
// at --request-timeout the watch exits 1, naming the member.
func TestGetWatchMemberDownExit(t *testing.T) {
	namespace(t, "watchexit")
	for _, c := range members {
		create(t, c, configMap("standing", "watchexit", "down", "a: 'x'"))
	}
	w := startWatch(t, "configmaps", "-n", "watchexit", "-l", "test=down", "-w", "--request-timeout", "45s")
	w.waitFor(t, 30*time.Second, "the first table", func(stdout, _ string) error {
		return hasRows(stdout, []string{"eur", "standing"}, []string{"jpn", "standing"}, []string{"usa", "standing"})
	})
	stopMember(t, "jpn")
	w.waitFor(t, 30*time.Second, "jpn's failure on stderr", func(_, stderr string) error {
		if !strings.Contains(stderr, "member jpn: ") {
			return fmt.Errorf("no failure of jpn reported")
		}
		return nil
	})
	create(t, "usa", configMap("later", "watchexit", "down", "a: 'x'"))
	w.waitFor(t, 30*time.Second, "usa's new row while jpn is down", func(stdout, _ string) error {
		return hasRows(stdout, []string{"usa", "later"})
	})
	if code := w.wait(t, 60*time.Second); code != 1 {
		t.Errorf("exit %d at --request-timeout with jpn down, want 1", code)
	}
	_, stderr := w.output()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "error: cluster jpn: ") || strings.Contains(last, "watched again") {
		t.Errorf("stderr %q, want jpn named last, as still down", stderr)
	}
}
