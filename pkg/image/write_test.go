package image

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// testIndex builds the test index and returns it with its digest.
func testIndex(t *testing.T) (v1.ImageIndex, v1.Hash) {
	t.Helper()
	idx, err := Index(testOptions(t), testPlatforms())
	if err != nil {
		t.Fatal(err)
	}
	digest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return idx, digest
}

// TestWriteLayout writes the index as an OCI layout, reads it back and
// validates every blob against its digest, then packs it twice: the two
// archives are the same bytes.
func TestWriteLayout(t *testing.T) {
	idx, want := testIndex(t)
	dir := filepath.Join(t.TempDir(), "oci")
	if err := WriteLayout(dir, idx, "ghcr.io/kfed-dev/coredns-fed", "v0.1.0"); err != nil {
		t.Fatal(err)
	}
	if err := WriteLayout(dir, idx, "ghcr.io/kfed-dev/coredns-fed", "v0.1.0"); err == nil {
		t.Error("writing over an existing layout: no error")
	}

	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 || m.Manifests[0].Digest != want {
		t.Fatalf("index.json lists %v, want the one index %s", m.Manifests, want)
	}
	anns := m.Manifests[0].Annotations
	if anns["org.opencontainers.image.ref.name"] != "v0.1.0" || anns["io.containerd.image.name"] != "ghcr.io/kfed-dev/coredns-fed:v0.1.0" {
		t.Errorf("index.json names the image %v", anns)
	}
	read, err := top.ImageIndex(want)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(read); err != nil {
		t.Fatalf("the layout's index is invalid: %v", err)
	}

	var archives [][]byte
	for i := range 2 {
		dst := filepath.Join(t.TempDir(), "image.tar")
		if err := ArchiveLayout(dir, dst, created); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, b)
		if i == 0 {
			checkArchive(t, b)
		}
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Error("two archives of one layout differ")
	}
}

// checkArchive checks that an archive holds the layout's files at its root.
func checkArchive(t *testing.T, b []byte) {
	t.Helper()
	names := map[string]bool{}
	eachEntry(t, bytes.NewReader(b), func(hdr *tar.Header, _ io.Reader) {
		if hdr.Uid != 0 || hdr.Gid != 0 || !hdr.ModTime.Equal(created) {
			t.Errorf("%s: owner %d:%d, time %v", hdr.Name, hdr.Uid, hdr.Gid, hdr.ModTime)
		}
		names[hdr.Name] = true
	})
	for _, want := range []string{"oci-layout", "index.json", "blobs/", "blobs/sha256/"} {
		if !names[want] {
			t.Errorf("the archive has no %s", want)
		}
	}
}

// TestPush pushes the index to a registry on loopback, pulls it back and
// compares digests: the registry holds exactly what was built.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/kfed/coredns-fed"

	idx, want := testIndex(t)
	ctx := context.Background()
	pushed, err := Push(ctx, idx, repo, "v0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	if pushed.DigestStr() != want.String() {
		t.Errorf("pushed %s, want digest %s", pushed, want)
	}

	ref, err := name.NewTag(repo + ":v0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(ref, remote.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	got, err := pulled.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("pulled %s, pushed %s", got, want)
	}
	if err := validate.Index(pulled); err != nil {
		t.Errorf("the pulled index is invalid: %v", err)
	}

	if _, err := Push(ctx, idx, repo, "bad tag"); err == nil {
		t.Error("an invalid tag: no error")
	}
}
