package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	utilversion "k8s.io/apimachinery/pkg/util/version"
)

func TestVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    State
		want string
	}{
		{"release tag", State{Tag: "v0.2.0", Last: "v0.2.0", Commit: "a1b2c3d4e5f6"}, "v0.2.0"},
		{"pre-release tag", State{Tag: "v1.0.0-rc.1", Last: "v1.0.0-rc.1", Commit: "a1b2c3d4e5f6"}, "v1.0.0-rc.1"},
		{"release tag, dirty", State{Tag: "v0.2.0", Last: "v0.2.0", Commit: "a1b2c3d4e5f6", Dirty: true}, "v0.3.0-dev.0+a1b2c3d4e5f6.dirty"},
		{"after a release", State{Last: "v0.2.0", Since: 3, Commit: "a1b2c3d4e5f6"}, "v0.3.0-dev.3+a1b2c3d4e5f6"},
		{"after a pre-release", State{Last: "v1.0.0-rc.1", Since: 2, Commit: "a1b2c3d4e5f6"}, "v1.0.0-rc.1.dev.2+a1b2c3d4e5f6"},
		{"no tag", State{Since: 42, Commit: "a1b2c3d4e5f6"}, "v0.1.0-dev.42+a1b2c3d4e5f6"},
		{"no tag, dirty", State{Since: 42, Commit: "a1b2c3d4e5f6", Dirty: true}, "v0.1.0-dev.42+a1b2c3d4e5f6.dirty"},
		{"not a version tag", State{Tag: "latest", Last: "nightly", Since: 5, Commit: "a1b2c3d4e5f6"}, "v0.1.0-dev.5+a1b2c3d4e5f6"},
		{"no git", State{}, "v0.1.0-dev.0+unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Version(tc.s)
			if got != tc.want {
				t.Errorf("Version(%+v) = %q, want %q", tc.s, got, tc.want)
			}
			if _, err := utilversion.ParseSemantic(got); err != nil {
				t.Errorf("%q is not a semantic version: %v", got, err)
			}
		})
	}
}

// TestVersionsOrder checks that successive builds order as krew orders
// them (krew compares with apimachinery's semantic versions), so that
// `kubectl krew upgrade` moves from each to the next.
func TestVersionsOrder(t *testing.T) {
	builds := []string{
		Version(State{Since: 9, Commit: "ffffffffffff"}),
		Version(State{Since: 10, Commit: "000000000000"}),
		"v0.1.0",
		Version(State{Last: "v0.1.0", Since: 1, Commit: "aaaaaaaaaaaa"}),
		Version(State{Last: "v0.1.0", Since: 2, Commit: "000000000000"}),
		"v0.2.0-rc.1",
		Version(State{Last: "v0.2.0-rc.1", Since: 1, Commit: "bbbbbbbbbbbb"}),
		"v0.2.0",
	}
	for i := 1; i < len(builds); i++ {
		a, b := utilversion.MustParseSemantic(builds[i-1]), utilversion.MustParseSemantic(builds[i])
		if !a.LessThan(b) {
			t.Errorf("%s does not order before %s", builds[i-1], builds[i])
		}
	}
}

// TestRead builds a history in a fresh repository with the real git and
// checks the version read from it at each step.
func TestRead(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commit := func(content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		run("add", "f")
		run("commit", "-q", "-m", content)
	}
	check := func(want func(short string) string) {
		t.Helper()
		s := read()
		if got, w := Version(s), want(s.Commit); got != w {
			t.Errorf("version %q, want %q", got, w)
		}
	}
	run("init", "-q")
	commit("1")
	commit("2")
	check(func(h string) string { return "v0.1.0-dev.2+" + h })
	run("tag", "v0.1.0")
	check(func(string) string { return "v0.1.0" })
	// An untracked file, as dist/ or bin/ would be, leaves the tag clean.
	if err := os.WriteFile(filepath.Join(dir, "untracked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	check(func(string) string { return "v0.1.0" })
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	check(func(h string) string { return "v0.2.0-dev.0+" + h + ".dirty" })
	commit("3")
	check(func(h string) string { return "v0.2.0-dev.1+" + h })
}
