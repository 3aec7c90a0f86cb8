// Command image assembles coredns-fed's container image from the static
// binaries that `make image` cross-compiled, without a container engine:
// one image per platform and an OCI index over them (see pkg/image). It
// writes the index as an OCI layout and as a tar archive of that layout,
// and pushes it to a registry when asked.
//
// It expects <dir>/<os>_<arch>/coredns-fed for each platform, and writes
// <dir>/oci/ (the layout) and <dir>/coredns-fed-oci.tar (the archive).
//
//	go run ./hack/image -dir dist/image -version v0.1.0 -revision $(git rev-parse HEAD) -created $(git log -1 --format=%ct)
//	go run ./hack/image ... -push registry.example.com/kfed/coredns-fed
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kfed-dev/kfed/pkg/image"
)

// Archive is the name of the layout's archive in -dir.
const Archive = "coredns-fed-oci.tar"

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("image", flag.ContinueOnError)
	var (
		dir       = flags.String("dir", "dist/image", "directory with the <os>_<arch>/coredns-fed builds; the layout and archive are written here")
		platforms = flags.String("platforms", "linux/amd64,linux/arm64", "platforms, separated by commas or spaces, each built into -dir")
		version   = flags.String("version", "", "the version the binaries carry; labels the image and tags it")
		revision  = flags.String("revision", "", "the commit the binaries were built from")
		source    = flags.String("source", "https://github.com/kfed-dev/kfed", "the source repository's URL")
		created   = flags.Int64("created", -1, "the image's creation time in seconds since 1970: the commit's time (SOURCE_DATE_EPOCH)")
		repo      = flags.String("repo", "ghcr.io/kfed-dev/coredns-fed", "the image's repository, for the layout's name")
		digestOut = flags.String("digest-file", "", "a file to write the image's name and index digest to, as <repo>:<tag>@sha256:...")
		push      = flags.String("push", "", "a repository to push the index to as <repo>:<version>, with the credentials docker or podman login left")
	)
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *version == "" || *revision == "" || *created < 0 {
		return fmt.Errorf("-version, -revision and -created are required")
	}
	roots, err := image.MozillaRoots()
	if err != nil {
		return err
	}
	opts := image.Options{
		Version:  *version,
		Revision: *revision,
		Source:   *source,
		Created:  time.Unix(*created, 0).UTC(),
		CABundle: roots,
	}

	var builds []image.Platform
	list := strings.FieldsFunc(*platforms, func(r rune) bool { return r == ',' || r == ' ' })
	if len(list) == 0 {
		return fmt.Errorf("no platform given")
	}
	for _, p := range list {
		osName, arch, ok := strings.Cut(p, "/")
		if !ok {
			return fmt.Errorf("platform %q: want os/arch", p)
		}
		bin := filepath.Join(*dir, osName+"_"+arch, "coredns-fed")
		data, err := os.ReadFile(bin)
		if err != nil {
			return fmt.Errorf("coredns-fed for %s was not built: %w", p, err)
		}
		builds = append(builds, image.Platform{OS: osName, Architecture: arch, Binary: data})
	}
	idx, err := image.Index(opts, builds)
	if err != nil {
		return err
	}

	target := *repo
	if *push != "" {
		target = *push
	}
	tag := image.Tag(*version)
	layoutDir := filepath.Join(*dir, "oci")
	if err := os.RemoveAll(layoutDir); err != nil {
		return err
	}
	if err := image.WriteLayout(layoutDir, idx, target, tag); err != nil {
		return err
	}
	archive := filepath.Join(*dir, Archive)
	if err := image.ArchiveLayout(layoutDir, archive, opts.Created); err != nil {
		return err
	}
	if err := report(stdout, idx, archive, target+":"+tag); err != nil {
		return err
	}
	if *digestOut != "" {
		digest, err := idx.Digest()
		if err != nil {
			return err
		}
		if err := os.WriteFile(*digestOut, []byte(target+":"+tag+"@"+digest.String()+"\n"), 0o644); err != nil {
			return err
		}
	}

	if *push == "" {
		return nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ref, err := image.Push(ctx, idx, *push, tag, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pushed %s:%s\n  %s\n", *push, tag, ref)
	return nil
}
