package krew

import (
	"archive/tar"
	"archive/zip"
	"bytes"
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

	"github.com/kfed-dev/kfed/pkg/completion"
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

// File is one member of an archive: the file at Src, or Data when Src is
// empty, stored as Name with Mode.
type File struct {
	Name string
	Src  string
	Data []byte
	Mode os.FileMode
}

// Files returns what program's archive for t holds, all at its top level
// as krew's files rules expect: the binary at bin, under its name on t;
// for kubectl-fed, the completion helper kubectl runs for kubectl fed
// <TAB>; and the license at license.
func (t Target) Files(program, bin, license string) []File {
	files := []File{{Name: t.Exe(program), Src: bin, Mode: 0o755}}
	if program == Program {
		files = append(files, File{Name: completion.Name(t.OS), Data: []byte(completion.Script(t.OS)), Mode: 0o755})
	}
	return append(files, File{Name: LicenseFile, Src: license, Mode: 0o644})
}

// Pack writes program's archive for t into dir, holding files. The archive
// records no times, owners or names of the build machine: the same files
// make the same archive, byte for byte.
func Pack(dir string, t Target, program string, files []File) (Archive, error) {
	a := Archive{Target: t, Program: program, Path: filepath.Join(dir, t.ArchiveName(program))}
	f, err := os.Create(a.Path)
	if err != nil {
		return a, err
	}
	h := sha256.New()
	w := io.MultiWriter(f, h)
	add := func(write func(name string, mode os.FileMode, size int64, r io.Reader) error) error {
		for _, m := range files {
			if m.Src == "" {
				if err := write(m.Name, m.Mode, int64(len(m.Data)), bytes.NewReader(m.Data)); err != nil {
					return fmt.Errorf("packing %s: %w", m.Name, err)
				}
				continue
			}
			src, err := os.Open(m.Src)
			if err != nil {
				return err
			}
			fi, err := src.Stat()
			if err == nil {
				err = write(m.Name, m.Mode, fi.Size(), src)
			}
			src.Close()
			if err != nil {
				return fmt.Errorf("packing %s: %w", m.Src, err)
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
