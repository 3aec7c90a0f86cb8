package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/kfed-dev/kfed/pkg/version"
)

// containerdImageName is the annotation containerd's importer (`ctr images
// import`) names an image by; the OCI ref.name annotation holds only a tag.
const containerdImageName = "io.containerd.image.name"

// Tag turns a version into a valid image tag; see version.ImageTag.
func Tag(v string) string { return version.ImageTag(v) }

// WriteLayout writes the index as an OCI image layout into dir, which must
// not exist yet, naming it repo:tag for tools that read a layout's names:
// the OCI ref.name annotation (the tag) and containerd's image name.
func WriteLayout(dir string, idx v1.ImageIndex, repo, tag string) error {
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists; remove it first", dir)
	}
	ref, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		return fmt.Errorf("image name %s:%s: %w", repo, tag, err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	return p.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref.TagStr(),
		containerdImageName:                 ref.Name(),
	}))
}

// ArchiveLayout packs the layout in dir into a tar file at dst (the
// "oci-archive" that skopeo and `ctr images import` read), its entries in
// lexical order, all owned by root and dated modTime, so that the archive
// is as reproducible as the layout.
func ArchiveLayout(dir, dst string, modTime time.Time) (err error) {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Name:    filepath.ToSlash(rel),
			Mode:    0o644,
			ModTime: modTime.UTC().Truncate(time.Second),
			Format:  tar.FormatPAX,
		}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("packing %s: %w", dir, err)
	}
	return tw.Close()
}

// Push writes the index and its images to repo:tag in a registry, and
// returns the reference by digest of what it pushed. opts carry the
// credentials (remote.WithAuthFromKeychain) and transport.
func Push(ctx context.Context, idx v1.ImageIndex, repo, tag string, opts ...remote.Option) (name.Digest, error) {
	ref, err := name.NewTag(repo + ":" + tag)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image name %s:%s: %w", repo, tag, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return name.Digest{}, err
	}
	if err := remote.WriteIndex(ref, idx, append([]remote.Option{remote.WithContext(ctx)}, opts...)...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return ref.Context().Digest(digest.String()), nil
}
