package image

import (
	"archive/tar"
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)

func testOptions(t *testing.T) Options {
	t.Helper()
	roots, err := MozillaRoots()
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Version:  "v0.1.0",
		Revision: "0123456789abcdef0123456789abcdef01234567",
		Source:   "https://github.com/kfed-dev/kfed",
		Created:  created,
		CABundle: roots,
	}
}

func testPlatforms() []Platform {
	return []Platform{
		{OS: "linux", Architecture: "arm64", Binary: []byte("arm64 program")},
		{OS: "linux", Architecture: "amd64", Binary: []byte("amd64 program")},
	}
}

// entry is what a test checks of a tar header.
type entry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
}

// eachEntry calls fn with every header of a tar stream, and the reader
// positioned at the entry's content.
func eachEntry(t *testing.T, r io.Reader, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(hdr, tr)
	}
}

// layerEntries reads a layer's uncompressed tar stream, checks that every
// entry carries the image's time and no names, and returns the entries and
// the regular files' contents.
func layerEntries(t *testing.T, l v1.Layer) ([]entry, map[string][]byte) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var entries []entry
	data := map[string][]byte{}
	eachEntry(t, rc, func(hdr *tar.Header, content io.Reader) {
		if !hdr.ModTime.Equal(created) || hdr.Uname != "" || hdr.Gname != "" || !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() {
			t.Errorf("%s: mtime %v, atime %v, ctime %v, uname %q, gname %q; want %v and nothing else", hdr.Name, hdr.ModTime, hdr.AccessTime, hdr.ChangeTime, hdr.Uname, hdr.Gname, created)
		}
		entries = append(entries, entry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid})
		if hdr.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(content)
			if err != nil {
				t.Fatal(err)
			}
			data[hdr.Name] = b
		}
	})
	return entries, data
}

func TestImageLayers(t *testing.T) {
	o := testOptions(t)
	img, err := Image(o, Platform{OS: "linux", Architecture: "amd64", Binary: []byte("the program")})
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2 (base, binary)", len(layers))
	}
	for _, l := range layers {
		if mt, _ := l.MediaType(); mt != types.OCILayer {
			t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
		}
	}

	base, files := layerEntries(t, layers[0])
	wantBase := []entry{
		{"etc/", tar.TypeDir, 0o755, 0, 0},
		{"etc/group", tar.TypeReg, 0o644, 0, 0},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0},
		{"etc/ssl/", tar.TypeDir, 0o755, 0, 0},
		{"etc/ssl/certs/", tar.TypeDir, 0o755, 0, 0},
		{"etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0o644, 0, 0},
		{"home/", tar.TypeDir, 0o755, 0, 0},
		{"home/nonroot/", tar.TypeDir, 0o700, 65532, 65532},
	}
	if !reflect.DeepEqual(base, wantBase) {
		t.Errorf("base layer:\n got %v\nwant %v", base, wantBase)
	}
	if got := string(files["etc/passwd"]); !strings.Contains(got, "\nnonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot 65532:\n%s", got)
	}
	if got := string(files["etc/group"]); !strings.Contains(got, "\nnonroot:x:65532:") {
		t.Errorf("/etc/group has no nonroot 65532:\n%s", got)
	}
	if !bytes.Equal(files[CABundlePath], o.CABundle) {
		t.Errorf("the CA bundle in the image differs from the one given")
	}

	bin, files := layerEntries(t, layers[1])
	if want := []entry{{"coredns-fed", tar.TypeReg, 0o755, 0, 0}}; !reflect.DeepEqual(bin, want) {
		t.Errorf("binary layer:\n got %v\nwant %v", bin, want)
	}
	if got := string(files["coredns-fed"]); got != "the program" {
		t.Errorf("binary %q, want %q", got, "the program")
	}
}

func TestImageConfig(t *testing.T) {
	o := testOptions(t)
	img, err := Image(o, Platform{OS: "linux", Architecture: "arm64", Binary: []byte("the program")})
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", mt, types.OCIManifestSchema1)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || !cf.Created.Time.Equal(created) {
		t.Errorf("config: %s/%s created %v, want linux/arm64 created %v", cf.OS, cf.Architecture, cf.Created.Time, created)
	}
	c := cf.Config
	if c.User != "65532:65532" || !reflect.DeepEqual(c.Entrypoint, []string{"/coredns-fed"}) || c.WorkingDir != "/" || len(c.Cmd) != 0 || len(c.Env) != 0 {
		t.Errorf("config: user %q, entrypoint %q, cmd %q, workdir %q, env %q", c.User, c.Entrypoint, c.Cmd, c.WorkingDir, c.Env)
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	if want := []string{"53/tcp", "53/udp", "9153/tcp"}; !reflect.DeepEqual(ports, want) {
		t.Errorf("exposed ports %v, want %v", ports, want)
	}
	want := map[string]string{
		"org.opencontainers.image.version":  "v0.1.0",
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   "https://github.com/kfed-dev/kfed",
		"org.opencontainers.image.created":  "2026-11-30T08:00:00Z",
		"org.opencontainers.image.title":    "coredns-fed",
		"org.opencontainers.image.licenses": "Apache-2.0",
	}
	for k, v := range want {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if len(cf.History) != 2 || len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("%d history entries and %d diff IDs, want 2 and 2", len(cf.History), len(cf.RootFS.DiffIDs))
	}
}

func TestIndex(t *testing.T) {
	o := testOptions(t)
	idx, err := Index(o, testPlatforms())
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %s, want %s", m.MediaType, types.OCIImageIndex)
	}
	var platforms []string
	for _, d := range m.Manifests {
		platforms = append(platforms, d.Platform.String())
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cf.OS + "/" + cf.Architecture; got != d.Platform.String() {
			t.Errorf("the image listed for %s is for %s", d.Platform, got)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !reflect.DeepEqual(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}
	if got := m.Annotations["org.opencontainers.image.version"]; got != "v0.1.0" {
		t.Errorf("index version annotation %q, want v0.1.0", got)
	}
}

// TestIndexReproducible builds the index twice from the same inputs, given
// in another order: the digests must be equal. A different time or binary
// must change them.
func TestIndexReproducible(t *testing.T) {
	o := testOptions(t)
	digest := func(o Options, platforms []Platform) v1.Hash {
		t.Helper()
		idx, err := Index(o, platforms)
		if err != nil {
			t.Fatal(err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	first := digest(o, testPlatforms())
	p := testPlatforms()
	p[0], p[1] = p[1], p[0]
	if second := digest(o, p); second != first {
		t.Fatalf("two builds from the same inputs: %s and %s", first, second)
	}

	later := o
	later.Created = created.Add(time.Second)
	if digest(later, testPlatforms()) == first {
		t.Error("another creation time gives the same digest")
	}
	p = testPlatforms()
	p[0].Binary = []byte("another program")
	if digest(o, p) == first {
		t.Error("another binary gives the same digest")
	}
}

func TestIndexErrors(t *testing.T) {
	o := testOptions(t)
	if _, err := Index(o, nil); err == nil {
		t.Error("no platforms: no error")
	}
	twice := append(testPlatforms(), testPlatforms()[0])
	if _, err := Index(o, twice); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a platform given twice: error %v", err)
	}
	noTime := o
	noTime.Created = time.Time{}
	if _, err := Index(noTime, testPlatforms()); err == nil || !strings.Contains(err.Error(), "creation time") {
		t.Errorf("no creation time: error %v", err)
	}
	if _, err := Image(o, Platform{OS: "linux", Architecture: "amd64"}); err == nil || !strings.Contains(err.Error(), "no binary") {
		t.Errorf("no binary: error %v", err)
	}
}

func TestTarLayerErrors(t *testing.T) {
	for _, files := range [][]File{
		{{Path: "etc/passwd", Mode: 0o644}},                  // etc/ is not listed
		{{Path: "/etc", Mode: fs.ModeDir | 0o755}},           // absolute
		{{Path: "a", Mode: 0o644}, {Path: "a", Mode: 0o644}}, // twice
		{{Path: "a/../b", Mode: 0o644}},                      // not clean
		{{Path: "link", Mode: fs.ModeSymlink | 0o777}},       // not a file
		{{Path: "", Mode: 0o644}},                            // no path
	} {
		if _, err := tarLayer(files, created); err == nil {
			t.Errorf("%v: no error", files)
		}
	}
}

func TestMozillaRoots(t *testing.T) {
	roots, err := MozillaRoots()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rest := roots; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("%d roots, want the 100 and more of Mozilla's store", n)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		t.Error("the bundle does not load into a CertPool")
	}
}

func TestTag(t *testing.T) {
	for in, want := range map[string]string{
		"v0.1.0":                  "v0.1.0",
		"v0.1.0-3-g899da58-dirty": "v0.1.0-3-g899da58-dirty",
		"v0.0.0-dev+899da58":      "v0.0.0-dev-899da58",
		"":                        "latest",
		"899da58":                 "899da58",
		".hidden":                 "hidden",
		strings.Repeat("a", 200):  strings.Repeat("a", 128),
	} {
		if got := Tag(in); got != want {
			t.Errorf("Tag(%q) = %q, want %q", in, got, want)
		}
	}
}
