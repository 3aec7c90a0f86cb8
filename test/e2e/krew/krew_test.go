//go:build e2e

// Package krew_test installs kubectl-fed from a release with krew itself,
// built from its module (make krew-bin), and checks the manifest with
// krew's own validator, the archives served over loopback HTTP as a
// release page serves them. It needs no lab: only kubectl on PATH.
package krew_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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

// krewTools returns the directory with kubectl-krew and
// validate-krew-manifest.
func krewTools(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KFED_KREW_BIN")
	if dir == "" {
		t.Fatal("KFED_KREW_BIN is not set: run make e2e, or make krew-bin and point it at .cache/tools/krew-*")
	}
	for _, p := range []string{"kubectl-krew", "validate-krew-manifest"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Fatalf("%s: %v (make krew-bin builds it)", p, err)
		}
	}
	return dir
}

// release returns a release's manifest and the directory of its archives:
// those of `make dist` when dist/ holds a complete one (all six platforms),
// else a linux build for this machine's architecture packed here, which
// costs one build instead of twelve.
func release(t *testing.T) (*krew.Plugin, string) {
	t.Helper()
	root := repoRoot(t)
	dist := filepath.Join(root, "dist")
	if data, err := os.ReadFile(filepath.Join(dist, "fed.yaml")); err == nil {
		p, err := krew.Unmarshal(data)
		if err != nil {
			t.Fatalf("dist/fed.yaml: %v", err)
		}
		current := len(p.Spec.Platforms) == len(krew.Targets)
		for _, pl := range p.Spec.Platforms {
			tg := krew.Target{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
			if sum, err := krew.FileSha256(filepath.Join(dist, tg.ArchiveName(krew.Program))); err != nil || sum != pl.Sha256 {
				current = false
			}
		}
		if current {
			t.Logf("using make dist's release in %s (version %s, %d platforms)", dist, p.Spec.Version, len(p.Spec.Platforms))
			return p, dist
		}
	}
	t.Log("dist/ holds no complete release: building kubectl-fed for linux/" + runtime.GOARCH)
	dir := t.TempDir()
	version := "v0.1.0-dev.1+e2e"
	bin := filepath.Join(dir, "build", "kubectl-fed")
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-s -w -X github.com/kfed-dev/kfed/pkg/version.Version="+version,
		"-o", bin, "./cmd/kubectl-fed")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tg := krew.Target{OS: "linux", Arch: runtime.GOARCH}
	a, err := krew.Pack(dir, tg, krew.Program, tg.Files(krew.Program, bin, filepath.Join(root, "LICENSE")))
	if err != nil {
		t.Fatal(err)
	}
	p, err := krew.NewPlugin(version, krew.DefaultURIPattern, []krew.Archive{a})
	if err != nil {
		t.Fatal(err)
	}
	return p, dir
}

// serve serves dir's archives on a loopback address and returns the
// manifest, written to a file, with every uri pointing there.
func serve(t *testing.T, p *krew.Plugin, dir string) string {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	served := *p
	served.Spec.Platforms = slices.Clone(p.Spec.Platforms)
	for i, pl := range served.Spec.Platforms {
		tg := krew.Target{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		served.Spec.Platforms[i].URI = srv.URL + "/" + tg.ArchiveName(krew.Program)
	}
	data, err := krew.Marshal(&served)
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(t.TempDir(), "fed.yaml")
	if err := os.WriteFile(manifest, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return manifest
}

// user is a shell of a krew user: kubectl, krew's bin directory and krew
// on PATH, and nothing else of this checkout (bin/ is on PATH under make
// e2e, and its kubectl-fed must not answer).
type user struct {
	t         *testing.T
	kubectl   string
	krewRoot  string
	env       []string
	validator string
}

func newUser(t *testing.T) *user {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl is not on PATH; run `make e2e`")
	}
	tools := krewTools(t)
	root := t.TempDir()
	path := strings.Join([]string{filepath.Join(root, "bin"), filepath.Dir(kubectl), tools, "/usr/bin", "/bin"}, string(os.PathListSeparator))
	u := &user{
		t: t, kubectl: kubectl, krewRoot: root,
		env: append(os.Environ(), "PATH="+path, "KREW_ROOT="+root, "HOME="+t.TempDir(),
			"GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example.com", "GIT_COMMITTER_NAME=e2e",
			"GIT_COMMITTER_EMAIL=e2e@example.com", "GIT_CONFIG_GLOBAL=/dev/null"),
		validator: filepath.Join(tools, "validate-krew-manifest"),
	}
	// krew reads its plugin index, a git clone, before most commands;
	// `krew update` would clone krew-index from GitHub. An empty index of
	// our own, as a private index is, keeps the test on this machine.
	index := filepath.Join(root, "index", "default")
	if err := os.MkdirAll(filepath.Join(index, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	u.must("git", "-C", index, "init", "-q")
	u.must("git", "-C", index, "commit", "-q", "--allow-empty", "-m", "an empty index")
	return u
}

// run runs a command as the user and returns its combined output.
func (u *user) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = u.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// must runs a command and fails the test if it fails.
func (u *user) must(name string, args ...string) string {
	u.t.Helper()
	out, err := u.run(name, args...)
	if err != nil {
		u.t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

// TestKrewValidatorPasses runs krew's validator on the release's manifest:
// it downloads every platform's archive from the loopback server, checks
// its sha256 and installs it in a scratch directory.
func TestKrewValidatorPasses(t *testing.T) {
	u := newUser(t)
	p, dir := release(t)
	manifest := serve(t, p, dir)
	out := u.must(u.validator, "-manifest", manifest)
	t.Logf("validate-krew-manifest (%d platforms):\n%s", len(p.Spec.Platforms), out)
}

// TestKrewInstallCompleteUninstall is a krew user's day: install from the
// release's manifest, read the caveats, run the plugin through kubectl,
// follow the caveats to get completion, list, uninstall; then install
// offline from the archive.
func TestKrewInstallCompleteUninstall(t *testing.T) {
	u := newUser(t)
	p, dir := release(t)
	manifest := serve(t, p, dir)

	out := u.must(u.kubectl, "krew", "install", "--manifest="+manifest)
	for _, want := range []string{"Installed plugin: fed", "kubectl fed completion kubectl"} {
		if !strings.Contains(out, want) {
			t.Errorf("krew install printed no %q:\n%s", want, out)
		}
	}
	if out := u.must(u.kubectl, "fed", "version"); !strings.HasPrefix(out, "kubectl-fed "+p.Spec.Version+" ") {
		t.Errorf("kubectl fed version printed %q, want it to start with kubectl-fed %s", out, p.Spec.Version)
	}
	if out := u.must(u.kubectl, "krew", "list"); !strings.Contains(out, "fed") {
		t.Errorf("krew list does not show fed:\n%s", out)
	}

	// krew links only the bin: until the caveats are followed, kubectl
	// finds no completion helper and offers no subcommands.
	if out, _ := u.run(u.kubectl, "__complete", "fed", ""); strings.Contains(out, "join") {
		t.Errorf("kubectl completed fed's subcommands before the caveats were followed:\n%s", out)
	}
	helper := filepath.Join(u.krewRoot, "bin", "kubectl_complete-fed")
	script := u.must("sh", "-c", `kubectl fed completion kubectl > "$KREW_ROOT/bin/kubectl_complete-fed" && chmod +x "$KREW_ROOT/bin/kubectl_complete-fed"`)
	if _, err := os.Stat(helper); err != nil {
		t.Fatalf("following the caveats wrote no helper: %v\n%s", err, script)
	}
	out = u.must(u.kubectl, "__complete", "fed", "")
	for _, sub := range []string{"apply", "dns", "get", "join", "version"} {
		if !strings.Contains(out, "\n"+sub+"\t") && !strings.HasPrefix(out, sub+"\t") {
			t.Errorf("kubectl __complete fed \"\" does not offer %s:\n%s", sub, out)
		}
	}

	u.must(u.kubectl, "krew", "uninstall", "fed")
	if _, err := os.Lstat(filepath.Join(u.krewRoot, "bin", "kubectl-fed")); !os.IsNotExist(err) {
		t.Errorf("kubectl-fed is still linked after uninstall: %v", err)
	}

	// Offline, from the archive, for a new user: the README's --archive
	// install.
	u = newUser(t)
	tg := krew.Target{OS: runtime.GOOS, Arch: runtime.GOARCH}
	out = u.must(u.kubectl, "krew", "install", "--manifest="+manifest, "--archive="+filepath.Join(dir, tg.ArchiveName(krew.Program)))
	if !strings.Contains(out, "Installed plugin: fed") {
		t.Errorf("krew install --archive printed:\n%s", out)
	}
	u.must(u.kubectl, "fed", "version")
}
