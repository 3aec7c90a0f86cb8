//go:build e2e

// Package krew_test installs kubectl-fed from its release archives the way
// krew does, and runs it through kubectl's plugin discovery. It needs no
// lab: only kubectl on PATH.
package krew_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/kfed-dev/kfed/krew"
)

// repoRoot is the checkout this package is in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// release returns the manifest and the directory of its archives: those
// of `make dist` when dist/ matches krew/fed.yaml, else a linux build for
// this machine's architecture packed here, which costs one build instead
// of twelve.
func release(t *testing.T) (*krew.Plugin, string) {
	t.Helper()
	root := repoRoot(t)
	dist := filepath.Join(root, "dist")
	if data, err := os.ReadFile(filepath.Join(root, "krew", "fed.yaml")); err == nil {
		p, err := krew.Unmarshal(data)
		if err != nil {
			t.Fatalf("krew/fed.yaml: %v", err)
		}
		current := len(p.Spec.Platforms) > 0
		for _, pl := range p.Spec.Platforms {
			tg := krew.Target{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
			if sum, err := krew.FileSha256(filepath.Join(dist, tg.ArchiveName(krew.Program))); err != nil || sum != pl.Sha256 {
				current = false
			}
		}
		if current {
			t.Logf("using the archives in %s and krew/fed.yaml (version %s)", dist, p.Spec.Version)
			return p, dist
		}
	}
	t.Log("dist/ is absent or stale: building kubectl-fed for linux/" + runtime.GOARCH)
	dir := t.TempDir()
	version := "v0.0.0-e2e+krew"
	bin := filepath.Join(dir, "build", "kubectl-fed")
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/kfed-dev/kfed/pkg/version.Version="+version,
		"-o", bin, "./cmd/kubectl-fed")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	a, err := krew.Pack(dir, krew.Target{OS: "linux", Arch: runtime.GOARCH}, krew.Program, bin, filepath.Join(root, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := krew.NewPlugin(version, "file://"+dir+"/${ARCHIVE}", []krew.Archive{a})
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

// TestInstallAndRunThroughKubectl is the check: the manifest keeps
// krew's rules, every linux archive installs as krew installs it, and
// `kubectl fed version` runs the installed plugin.
func TestInstallAndRunThroughKubectl(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl is not on PATH; run `make e2e`")
	}
	p, dir := release(t)
	if err := krew.Validate(p, "fed.yaml"); err != nil {
		t.Fatal(err)
	}
	ran := false
	for _, pl := range p.Spec.Platforms {
		tg := krew.Target{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		archive := filepath.Join(dir, tg.ArchiveName(krew.Program))
		if err := krew.CheckArchive(pl, archive); err != nil {
			t.Errorf("%s: %v", tg, err)
			continue
		}
		if tg.OS != "linux" {
			continue
		}
		t.Run(tg.String(), func(t *testing.T) {
			binDir, err := krew.Install(t.TempDir(), p, pl, archive)
			if err != nil {
				t.Fatal(err)
			}
			if tg.Arch != runtime.GOARCH {
				t.Skipf("installed; %s does not run on %s", tg, runtime.GOARCH)
			}
			ran = true
			// Only krew's bin and kubectl itself: no other kubectl-fed
			// (bin/ of the checkout is on PATH under make e2e) may answer.
			cmd := exec.Command(kubectl, "fed", "version")
			cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+filepath.Dir(kubectl))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl fed version: %v\n%s", err, out)
			}
			if want := "kubectl-fed " + p.Spec.Version + " "; !strings.HasPrefix(string(out), want) {
				t.Errorf("kubectl fed version printed %q, want it to start with %q", out, want)
			}
			list := exec.Command(kubectl, "plugin", "list")
			list.Env = cmd.Env
			out, _ = list.CombinedOutput()
			if !strings.Contains(string(out), filepath.Join(binDir, "kubectl-fed")) {
				t.Errorf("kubectl plugin list does not show krew's kubectl-fed:\n%s", out)
			}
		})
	}
	if !ran {
		t.Errorf("no linux/%s archive to run", runtime.GOARCH)
	}
}
