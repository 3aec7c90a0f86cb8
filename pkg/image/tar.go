package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one entry of a layer: a regular file when Mode is regular, a
// directory when Mode has fs.ModeDir. Entries carry no time of their own:
// the layer stamps them all with one, so that the layer's bytes depend only
// on its contents.
type File struct {
	// Path is relative to the image's root, with forward slashes and no
	// leading slash ("etc/passwd").
	Path string
	// Mode holds the permission bits, fs.ModeDir for a directory, and
	// fs.ModeSticky where wanted.
	Mode fs.FileMode
	// UID and GID own the entry.
	UID, GID int
	// Data is a regular file's content.
	Data []byte
}

// tarLayer packs files into an uncompressed tar stream with every header
// field that could differ between two builds fixed: entries sorted by path,
// the given modification time (to the second), no access or change times,
// no user or group names, and numeric owners as given. Parent directories
// must be listed themselves; a missing one is an error, so that no entry
// gets a mode or owner by accident.
func tarLayer(files []File, modTime time.Time) ([]byte, error) {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })

	dirs := map[string]bool{".": true}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, f := range sorted {
		if f.Path == "" || strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path {
			return nil, fmt.Errorf("layer entry %q: want a clean path relative to the root", f.Path)
		}
		if i > 0 && sorted[i-1].Path == f.Path {
			return nil, fmt.Errorf("layer entry %q is listed twice", f.Path)
		}
		if parent := path.Dir(f.Path); !dirs[parent] {
			return nil, fmt.Errorf("layer entry %q: its directory %q is not listed before it", f.Path, parent)
		}
		hdr := &tar.Header{
			Name:    f.Path,
			Mode:    tarMode(f.Mode),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: modTime.UTC().Truncate(time.Second),
			Format:  tar.FormatPAX,
		}
		switch {
		case f.Mode.IsDir():
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			dirs[f.Path] = true
		case f.Mode.IsRegular():
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.Data))
		default:
			return nil, fmt.Errorf("layer entry %q: only regular files and directories are supported, not mode %s", f.Path, f.Mode)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("layer entry %q: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("layer entry %q: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarMode turns Go's file mode into the bits a tar header holds: the
// permissions and the setuid, setgid and sticky bits, in their Unix places.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// newLayer makes an OCI layer of files. It is gzipped at the best
// compression once, when first read, and kept: Go's compress/gzip writes
// the same bytes for the same input and level, and no name or time in its
// header, so the digest is as reproducible as the tar stream.
func newLayer(files []File, modTime time.Time) (v1.Layer, error) {
	data, err := tarLayer(files, modTime)
	if err != nil {
		return nil, err
	}
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return tarball.LayerFromOpener(open,
		tarball.WithMediaType(types.OCILayer),
		tarball.WithCompressionLevel(gzip.BestCompression),
		tarball.WithCompressedCaching)
}
