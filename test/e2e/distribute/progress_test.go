//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProgressOnTerminal is the progress half of issue 13's done-when 8: on
// a terminal, a long apply, diff and delete count what they have done on
// stderr; in a pipe (every other test) they print no such thing. util-linux's
// script(1) gives the command a terminal.
func TestProgressOnTerminal(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skipf("script(1), which gives a command a terminal, is not installed: %v", err)
	}
	const ns, objects = "progress", 600
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := range objects {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\n  namespace: %s\ndata:\n  i: %q\n", i, ns, fmt.Sprint(i))
	}
	file := manifest(t, b.String())

	// In a pipe, as every other test runs it: no counts mixed into stderr.
	if res := fed(t, "apply", "-f", file); strings.Contains(res.Stderr, "\r") {
		t.Errorf("apply in a pipe wrote progress to stderr:\n%q", res.Stderr)
	}

	counts := regexp.MustCompile(`\r(applying|comparing|deleting)[^\r\n]*: \d+/\d+`)
	for _, verb := range []string{"apply", "diff", "delete"} {
		args := []string{"fed", verb, "-f", file, "--context", hostCtx, "--kubeconfig", kubectl.Kubeconfig}
		line := kubectl.Path + " " + strings.Join(args, " ")
		out := filepath.Join(t.TempDir(), "typescript")
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, script, "-q", "-e", "-c", line, out)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubectl.Kubeconfig)
		runErr := cmd.Run()
		cancel()
		typescript, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		// diff exits 1 when it finds differences; the others must succeed.
		if runErr != nil && verb != "diff" {
			t.Fatalf("%s on a terminal: %v\n%s", verb, runErr, typescript)
		}
		if !counts.Match(typescript) {
			t.Errorf("%s of %d objects on a terminal showed no progress counts:\n%.2000s", verb, objects, typescript)
		}
	}
}
