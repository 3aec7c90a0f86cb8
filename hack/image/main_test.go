package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// fakeBuilds lays out stand-ins for the binaries `make image` compiles.
func fakeBuilds(t *testing.T, platforms ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range platforms {
		sub := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "coredns-fed"), []byte("coredns-fed for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var indexLine = regexp.MustCompile(`(?m)^  index (sha256:[0-9a-f]{64})$`)

func TestRun(t *testing.T) {
	dir := fakeBuilds(t, "linux/amd64", "linux/arm64")
	args := []string{"-dir", dir, "-version", "v0.1.0", "-revision", "abc", "-created", "1796025600"}

	var first bytes.Buffer
	if err := run(args, &first); err != nil {
		t.Fatal(err)
	}
	out := first.String()
	m := indexLine.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "ghcr.io/kfed-dev/coredns-fed:v0.1.0\n") ||
		!strings.Contains(out, "linux/amd64") || !strings.Contains(out, "linux/arm64") {
		t.Fatalf("output:\n%s", out)
	}
	archive, err := os.ReadFile(filepath.Join(dir, Archive))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci", "index.json")); err != nil {
		t.Errorf("no layout: %v", err)
	}

	// A second run replaces the layout and writes the same archive.
	var second bytes.Buffer
	if err := run(args, &second); err != nil {
		t.Fatal(err)
	}
	if second.String() != out {
		t.Errorf("second run printed\n%s\nfirst\n%s", second.String(), out)
	}
	again, err := os.ReadFile(filepath.Join(dir, Archive))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(archive, again) {
		t.Error("two runs wrote different archives")
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/kfed/coredns-fed"
	var pushed bytes.Buffer
	if err := run(append(args, "-push", repo), &pushed); err != nil {
		t.Fatal(err)
	}
	if want := repo + "@" + m[1]; !strings.Contains(pushed.String(), want) {
		t.Errorf("push printed\n%s\nwant %s", pushed.String(), want)
	}
}

func TestRunErrors(t *testing.T) {
	dir := fakeBuilds(t, "linux/amd64")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-dir", dir, "-revision", "abc", "-created", "0"}, "required"},
		{[]string{"-dir", dir, "-version", "v1", "-revision", "abc", "-created", "0"}, "linux/arm64 was not built"},
		{[]string{"-dir", dir, "-version", "v1", "-revision", "abc", "-created", "0", "-platforms", "amd64"}, "want os/arch"},
		{[]string{"-dir", dir, "-version", "v1", "-revision", "abc", "-created", "0", "-platforms", " "}, "no platform"},
	} {
		err := run(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.args, err, tc.want)
		}
	}
}
