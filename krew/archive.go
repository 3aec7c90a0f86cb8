package krew

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Target is one operating system and architecture of a release.
type Target struct {
	OS, Arch string
}

// Targets are the platforms a release is built for.
var Targets = []Target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

func (t Target) String() string { return t.OS + "/" + t.Arch }

// Exe returns a program's file name on t: with .exe on windows.
func (t Target) Exe(program string) string {
	if t.OS == "windows" {
		return program + ".exe"
	}
	return program
}

// ArchiveName returns the name of program's archive for t, such as
// kubectl-fed_linux_amd64.tar.gz or kubectl-fed_windows_arm64.zip.
func (t Target) ArchiveName(program string) string {
	ext := ".tar.gz"
	if t.OS == "windows" {
		ext = ".zip"
	}
	return program + "_" + t.OS + "_" + t.Arch + ext
}

// Archive is one packed archive.
type Archive struct {
	Target
	// Program is the program packed, such as kubectl-fed.
	Program string
	// Path is the archive's file.
	Path string
	// Sha256 is the archive's digest, in lowercase hex.
	Sha256 string
}

// LicenseFile is the name of the license in every archive.
const LicenseFile = "LICENSE"

// Pack writes program's archive for t into dir: the binary at bin, under
// its name on t, and the license at license, both at the archive's top
// level, as krew's files rules expect.
func Pack(dir string, t Target, program, bin, license string) (Archive, error) {
	a := Archive{Target: t, Program: program, Path: filepath.Join(dir, t.ArchiveName(program))}
	members := []struct {
		name, src string
		mode      os.FileMode
	}{
		{t.Exe(program), bin, 0o755},
		{LicenseFile, license, 0o644},
	}
	f, err := os.Create(a.Path)
	if err != nil {
		return a, err
	}
	h := sha256.New()
	w := io.MultiWriter(f, h)
	add := func(write func(name string, mode os.FileMode, size int64, r io.Reader) error) error {
		for _, m := range members {
			src, err := os.Open(m.src)
			if err != nil {
				return err
			}
			fi, err := src.Stat()
			if err == nil {
				err = write(m.name, m.mode, fi.Size(), src)
			}
			src.Close()
			if err != nil {
				return fmt.Errorf("packing %s: %w", m.src, err)
			}
		}
		return nil
	}
	if t.OS == "windows" {
		zw := zip.NewWriter(w)
		err = add(func(name string, mode os.FileMode, _ int64, r io.Reader) error {
			hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
			hdr.SetMode(mode)
			fw, err := zw.CreateHeader(hdr)
			if err == nil {
				_, err = io.Copy(fw, r)
			}
			return err
		})
		if err == nil {
			err = zw.Close()
		}
	} else {
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		err = add(func(name string, mode os.FileMode, size int64, r io.Reader) error {
			// No times, owners or names of the build machine: the same
			// inputs make the same archive.
			hdr := &tar.Header{Name: name, Mode: int64(mode), Size: size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err := io.Copy(tw, r)
			return err
		})
		if err == nil {
			err = tw.Close()
		}
		if err == nil {
			err = gz.Close()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return a, fmt.Errorf("packing %s: %w", a.Path, err)
	}
	a.Sha256 = hex.EncodeToString(h.Sum(nil))
	return a, nil
}

// FileSha256 returns the sha256 of the file at name, in lowercase hex.
func FileSha256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ArchiveMembers lists the regular files in a .tar.gz or .zip archive.
func ArchiveMembers(archive string) ([]string, error) {
	var names []string
	err := walkArchive(archive, func(name string, _ os.FileMode, _ io.Reader) error {
		names = append(names, name)
		return nil
	})
	return names, err
}

// walkArchive calls fn for every regular file in a .tar.gz or .zip archive.
func walkArchive(archive string, fn func(name string, mode os.FileMode, r io.Reader) error) error {
	if strings.HasSuffix(archive, ".zip") {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			r, err := f.Open()
			if err != nil {
				return err
			}
			err = fn(f.Name, f.Mode(), r)
			r.Close()
			if err != nil {
				return err
			}
		}
		return nil
	}
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", archive, err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := fn(hdr.Name, os.FileMode(hdr.Mode).Perm(), tr); err != nil {
			return err
		}
	}
}

// CheckArchive checks one platform's archive as krew would use it: its
// sha256 is the manifest's, every files rule matches something, and the bin
// and the LICENSE are in what the rules install.
func CheckArchive(pl Platform, archive string) error {
	sum, err := FileSha256(archive)
	if err != nil {
		return err
	}
	if sum != pl.Sha256 {
		return fmt.Errorf("%s: sha256 is %s, the manifest says %s", filepath.Base(archive), sum, pl.Sha256)
	}
	members, err := ArchiveMembers(archive)
	if err != nil {
		return err
	}
	var installed []string
	for _, op := range pl.Files {
		matched := false
		for _, m := range members {
			if ok, _ := path.Match(op.From, m); ok {
				matched = true
				installed = append(installed, path.Join(op.To, path.Base(m)))
			}
		}
		if !matched {
			return fmt.Errorf("%s: files rule from %q matches nothing in the archive", filepath.Base(archive), op.From)
		}
	}
	for _, want := range []string{path.Clean(pl.Bin), LicenseFile} {
		if !slices.Contains(installed, want) {
			return fmt.Errorf("%s: %s is not installed by the files rules (archive holds %v)", filepath.Base(archive), want, members)
		}
	}
	return nil
}

// Install installs a plugin from an archive the way krew does, under root
// (krew's KREW_ROOT): it checks the sha256, unpacks the archive, moves what
// the files rules select into store/<name>/<version>/, and links
// bin/kubectl-<name> to the bin. It returns root's bin directory, the one
// krew tells users to put on PATH.
func Install(root string, p *Plugin, pl Platform, archive string) (string, error) {
	if err := CheckArchive(pl, archive); err != nil {
		return "", err
	}
	staging, err := os.MkdirTemp(root, "download-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(staging)
	err = walkArchive(archive, func(name string, mode os.FileMode, r io.Reader) error {
		dst := filepath.Join(staging, filepath.FromSlash(name))
		if !strings.HasPrefix(dst, staging+string(filepath.Separator)) {
			return fmt.Errorf("archive member %q leaves the directory", name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		return "", err
	}
	install := filepath.Join(root, "store", p.Metadata.Name, p.Spec.Version)
	if err := os.MkdirAll(install, 0o755); err != nil {
		return "", err
	}
	for _, op := range pl.Files {
		matches, err := filepath.Glob(filepath.Join(staging, filepath.FromSlash(op.From)))
		if err != nil {
			return "", err
		}
		for _, m := range matches {
			dst := filepath.Join(install, filepath.FromSlash(op.To), filepath.Base(m))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return "", err
			}
			if err := os.Rename(m, dst); err != nil {
				return "", err
			}
		}
	}
	bin := filepath.Join(install, filepath.FromSlash(pl.Bin))
	if err := os.Chmod(bin, 0o755); err != nil {
		return "", fmt.Errorf("the bin %s was not installed: %w", pl.Bin, err)
	}
	binDir := filepath.Join(root, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	link := filepath.Join(binDir, "kubectl-"+strings.ReplaceAll(p.Metadata.Name, "-", "_"))
	if err := os.Symlink(bin, link); err != nil {
		return "", err
	}
	return binDir, nil
}
