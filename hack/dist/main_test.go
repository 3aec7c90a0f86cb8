package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kfed-dev/kfed/krew"
)

// fakeBuild fills a build directory with a small Go program standing in for
// every program of every platform: a real Go binary, with the build
// information the SBOMs are read from, but a small one to pack.
func fakeBuild(t *testing.T) string {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/standin\n\ngo 1.25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(src, "standin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	build := t.TempDir()
	for _, tg := range krew.Targets {
		for _, program := range []string{krew.Program, "coredns-fed"} {
			dir := filepath.Join(build, tg.OS+"_"+tg.Arch)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, tg.Exe(program)), data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	image := filepath.Join(build, "coredns-fed-oci.tar")
	if err := os.WriteFile(image, []byte("an image archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	return build
}

// TestReleaseIsReproducible writes a release twice from the same binaries
// and checks that it is complete, covered by its sums, and the same bytes.
func TestReleaseIsReproducible(t *testing.T) {
	build := fakeBuild(t)
	license := filepath.Join(t.TempDir(), "LICENSE")
	if err := os.WriteFile(license, []byte("Apache License\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sums [2]string
	for i := range sums {
		dir := filepath.Join(t.TempDir(), "dist")
		err := run([]string{"-dir", dir, "-build", build, "-version", "v0.2.0-dev.3+a1b2c3d4e5f6", "-license", license,
			"-created", "1764547200", "-image", filepath.Join(build, "coredns-fed-oci.tar")}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, Sums))
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = string(data)

		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
			if e.Name() != Sums && !strings.Contains(sums[i], "  "+e.Name()+"\n") {
				t.Errorf("%s is not in %s", e.Name(), Sums)
			}
		}
		// Two programs on six platforms, an SBOM each; the image and its
		// SBOM; the manifest and the sums.
		if want := 2*2*len(krew.Targets) + 2 + 2; len(names) != want {
			t.Errorf("%d files, want %d: %v", len(names), want, names)
		}
		for _, want := range []string{Manifest, "coredns-fed-oci.tar.spdx.json", "kubectl-fed_windows_arm64.zip.spdx.json"} {
			if !slices.Contains(names, want) {
				t.Errorf("no %s in %v", want, names)
			}
		}
		checkSBOM(t, filepath.Join(dir, "kubectl-fed_linux_amd64.tar.gz.spdx.json"))
	}
	if sums[0] != sums[1] {
		t.Errorf("two runs wrote different releases:\n%s\n%s", sums[0], sums[1])
	}
}

// checkSBOM reads an SBOM back and checks it describes a binary that
// depends on the Go standard library.
func checkSBOM(t *testing.T, name string) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDocument
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.CreationInfo.Created != "2025-12-01T00:00:00Z" {
		t.Errorf("%s: version %q, created %q", name, doc.SPDXVersion, doc.CreationInfo.Created)
	}
	var described, stdlib bool
	for _, r := range doc.Relationships {
		described = described || (r.Type == "DESCRIBES" && strings.HasPrefix(r.Related, "SPDXRef-Binary-"))
		stdlib = stdlib || (r.Type == "DEPENDS_ON" && strings.HasPrefix(r.Related, "SPDXRef-Module-stdlib-go1"))
	}
	if !described || !stdlib {
		t.Errorf("%s: describes a binary %v, depends on the standard library %v", name, described, stdlib)
	}
}

func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-created", "0"}, "-version and -created are required"},
		{[]string{"-version", "2984b81-dirty", "-created", "0"}, "hack/gitversion"},
		{[]string{"-version", "v0.1.0", "-created", "0", "-build", "/nonexistent"}, "was not built"},
	} {
		err := run(append(tc.args, "-dir", t.TempDir()), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%v): %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
