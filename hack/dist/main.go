// Command dist packs the release archives that `make dist` built, writes
// their sha256 sums and fills in the krew manifest, then checks the
// manifest and every archive against krew's rules.
//
// It expects the binaries in <dir>/<os>_<arch>/, and writes
// <dir>/<program>_<os>_<arch>.tar.gz (.zip for windows),
// <dir>/sha256sums.txt and the manifest.
//
//	go run ./hack/dist -print-version
//	go run ./hack/dist -dir dist -version v0.1.0 -manifest krew/fed.yaml
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kfed-dev/kfed/krew"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dir          = flag.String("dir", "dist", "directory with the <os>_<arch> builds; archives are written here")
		version      = flag.String("version", "", "the release's semantic version; from git when empty")
		license      = flag.String("license", "LICENSE", "the license file packed into every archive")
		manifest     = flag.String("manifest", "krew/fed.yaml", "the krew manifest to write")
		uri          = flag.String("uri", krew.DefaultURIPattern, "where archives are downloaded from; ${VERSION} and ${ARCHIVE} are replaced")
		printVersion = flag.Bool("print-version", false, "print the version taken from git, and exit")
	)
	flag.Parse()
	if *printVersion {
		fmt.Println(gitVersion())
		return nil
	}
	if *version == "" {
		*version = gitVersion()
	}
	var archives []krew.Archive
	for _, t := range krew.Targets {
		for _, program := range []string{krew.Program, "coredns-fed"} {
			bin := filepath.Join(*dir, t.OS+"_"+t.Arch, t.Exe(program))
			if _, err := os.Stat(bin); err != nil {
				return fmt.Errorf("%s for %s was not built: %w", program, t, err)
			}
			a, err := krew.Pack(*dir, t, program, bin, *license)
			if err != nil {
				return err
			}
			archives = append(archives, a)
			fmt.Printf("%s  %s\n", a.Sha256, filepath.Base(a.Path))
		}
	}
	var sums strings.Builder
	for _, a := range archives {
		fmt.Fprintf(&sums, "%s  %s\n", a.Sha256, filepath.Base(a.Path))
	}
	if err := os.WriteFile(filepath.Join(*dir, "sha256sums.txt"), []byte(sums.String()), 0o644); err != nil {
		return err
	}

	p, err := krew.NewPlugin(*version, *uri, archives)
	if err != nil {
		return err
	}
	data, err := krew.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*manifest, data, 0o644); err != nil {
		return err
	}
	// Read back what was written, as krew will.
	if p, err = krew.Unmarshal(data); err != nil {
		return err
	}
	errs := []error{krew.Validate(p, *manifest)}
	for _, pl := range p.Spec.Platforms {
		t := krew.Target{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		errs = append(errs, krew.CheckArchive(pl, filepath.Join(*dir, t.ArchiveName(krew.Program))))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s breaks krew's rules:\n%w", *manifest, err)
	}
	fmt.Printf("wrote %s (version %s, %d platforms)\n", *manifest, p.Spec.Version, len(p.Spec.Platforms))
	return nil
}

// gitVersion is the tag at HEAD when it is a semantic version, else
// v0.0.0-dev+<short commit>, with .dirty when the tree has changes, else
// v0.1.0-dev when git cannot tell.
func gitVersion() string {
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if tag := git("describe", "--tags", "--exact-match", "--match", "v*"); krew.IsSemver(tag) && git("status", "--porcelain") == "" {
		return tag
	}
	v := "v0.0.0-dev+" + git("rev-parse", "--short", "HEAD")
	if git("status", "--porcelain", "--untracked-files=no") != "" {
		v += ".dirty"
	}
	if !krew.IsSemver(v) {
		return "v0.1.0-dev"
	}
	return v
}
