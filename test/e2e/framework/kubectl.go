// Package framework holds what kfed's end-to-end tests share: a lab for a
// test package, the real kubectl (which finds kubectl-fed on PATH) run as a
// user would run it, and waiting helpers.
package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Kubectl runs the kubectl found on PATH against one kubeconfig.
type Kubectl struct {
	// Path is the kubectl binary.
	Path string
	// Kubeconfig is passed as --kubeconfig to every command.
	Kubeconfig string
	// Timeout bounds each command; 0 means 3 minutes.
	Timeout time.Duration
}

// NewKubectl finds kubectl and the kubectl-fed plugin on PATH.
func NewKubectl(kubeconfig string) (*Kubectl, error) {
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return nil, fmt.Errorf("kubectl is not on PATH: run the tests with `make e2e`, which puts the lab's kubectl there: %w", err)
	}
	if _, err := exec.LookPath("kubectl-fed"); err != nil {
		return nil, fmt.Errorf("kubectl-fed is not on PATH: run `make build` and put bin/ on PATH (`make e2e` does both): %w", err)
	}
	return &Kubectl{Path: path, Kubeconfig: kubeconfig}, nil
}

// Result is what one kubectl command did.
type Result struct {
	Args           []string
	Stdout, Stderr string
	ExitCode       int
	Duration       time.Duration
}

// String renders the command and its output for test failures.
func (r Result) String() string {
	return fmt.Sprintf("$ kubectl %s\n(exit %d after %s)\n--- stdout\n%s--- stderr\n%s",
		strings.Join(r.Args, " "), r.ExitCode, r.Duration.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// Run runs `kubectl --kubeconfig K args...`. A non-zero exit is reported
// in the Result, not as an error; the error is for a kubectl that could not
// run at all or ran past ctx.
func (k *Kubectl) Run(ctx context.Context, args ...string) (Result, error) {
	timeout := k.Timeout
	if timeout == 0 {
		timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// kubectl takes no flags before a plugin name, so --kubeconfig goes last.
	full := append(append([]string(nil), args...), "--kubeconfig", k.Kubeconfig)
	cmd := exec.CommandContext(ctx, k.Path, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Only the kubeconfig given counts, never the user's own.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+k.Kubeconfig)
	begin := time.Now()
	err := cmd.Run()
	res := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(begin)}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && ctx.Err() == nil:
		res.ExitCode = exitErr.ExitCode()
	default:
		return res, fmt.Errorf("running kubectl %s: %w", strings.Join(args, " "), err)
	}
	return res, nil
}

// Start runs a command in the background; Wait on the returned channel for
// its result.
func (k *Kubectl) Start(ctx context.Context, args ...string) <-chan Result {
	done := make(chan Result, 1)
	go func() {
		res, err := k.Run(ctx, args...)
		if err != nil {
			res.ExitCode = -1
			res.Stderr += "\n" + err.Error()
		}
		done <- res
	}()
	return done
}

// Succeed runs a command that must exit 0, and returns its result.
func (k *Kubectl) Succeed(t testing.TB, args ...string) Result {
	t.Helper()
	res, err := k.Run(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res)
	if res.ExitCode != 0 {
		t.Fatalf("kubectl %s failed with exit %d:\n%s", strings.Join(args, " "), res.ExitCode, res.Stderr)
	}
	return res
}

// Fail runs a command that must exit non-zero, and returns its result.
func (k *Kubectl) Fail(t testing.TB, args ...string) Result {
	t.Helper()
	res, err := k.Run(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", res)
	if res.ExitCode == 0 {
		t.Fatalf("kubectl %s succeeded, want a failure", strings.Join(args, " "))
	}
	return res
}
