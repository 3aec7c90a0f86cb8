// Command dist packs a release from the binaries `make dist` built: an
// archive per program and platform, the krew manifest fed.yaml, an SPDX
// SBOM beside every archive (and beside coredns-fed's image, when given),
// and one sha256sums.txt covering all of them. It then checks the
// manifest and every archive against krew's rules.
//
// It expects the binaries in <build>/<os>_<arch>/ and writes into <dir>:
//
//	kubectl-fed_<os>_<arch>.tar.gz (.zip for windows), and its .spdx.json
//	coredns-fed_<os>_<arch>.tar.gz (.zip for windows), and its .spdx.json
//	coredns-fed-oci.tar and coredns-fed-oci.tar.spdx.json (with -image)
//	fed.yaml
//	sha256sums.txt
//
// Everything written depends only on the binaries, the version and
// -created: two runs on one commit write the same bytes.
//
//	go run ./hack/dist -dir dist -build .cache/dist-build -version v0.2.0 -created 1764547200
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kfed-dev/kfed/krew"
)

// Manifest is the krew manifest's file name in a release.
const Manifest = "fed.yaml"

func main() {
	err := run(os.Args[1:], os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

// options are dist's flags.
type options struct {
	dir, build, version, license, uri, image string
	created                                  time.Time
}

func run(args []string, stdout io.Writer) error {
	flags := flag.NewFlagSet("dist", flag.ContinueOnError)
	var o options
	flags.StringVar(&o.dir, "dir", "dist", "directory the release is written into")
	flags.StringVar(&o.build, "build", ".cache/dist-build", "directory with the <os>_<arch>/ builds")
	flags.StringVar(&o.version, "version", "", "the release's semantic version, as the binaries carry it (go run ./hack/gitversion)")
	flags.StringVar(&o.license, "license", "LICENSE", "the license file packed into every archive")
	flags.StringVar(&o.uri, "uri", krew.DefaultURIPattern, "where krew downloads archives from; ${VERSION} and ${ARCHIVE} are replaced")
	flags.StringVar(&o.image, "image", "", "coredns-fed's OCI image archive (make image), copied into the release with its SBOM")
	created := flags.Int64("created", -1, "the release's time in seconds since 1970, for the SBOMs: the commit's (SOURCE_DATE_EPOCH)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if o.version == "" || *created < 0 {
		return fmt.Errorf("-version and -created are required")
	}
	if !krew.IsSemver(o.version) {
		return fmt.Errorf("version %q is not a semantic version with a leading v: take it from go run ./hack/gitversion", o.version)
	}
	o.created = time.Unix(*created, 0).UTC()
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}

	var archives []krew.Archive
	for _, t := range krew.Targets {
		for _, program := range []string{krew.Program, "coredns-fed"} {
			a, err := packOne(o, t, program)
			if err != nil {
				return err
			}
			archives = append(archives, a)
		}
	}
	if o.image != "" {
		if err := addImage(o); err != nil {
			return err
		}
	}
	if err := writeManifest(o, archives); err != nil {
		return err
	}
	sums, err := writeSums(o.dir)
	if err != nil {
		return err
	}
	for _, s := range sums {
		fmt.Fprintln(stdout, s)
	}
	fmt.Fprintf(stdout, "wrote %s: %d files for %s, with their sums in sha256sums.txt\n", o.dir, len(sums), o.version)
	return nil
}

// binary is where make dist-build wrote program for t.
func (o options) binary(t krew.Target, program string) string {
	return filepath.Join(o.build, t.OS+"_"+t.Arch, t.Exe(program))
}

// packOne packs program's archive for t and writes its SBOM beside it.
func packOne(o options, t krew.Target, program string) (krew.Archive, error) {
	bin := o.binary(t, program)
	if _, err := os.Stat(bin); err != nil {
		return krew.Archive{}, fmt.Errorf("%s for %s was not built (make dist builds it): %w", program, t, err)
	}
	a, err := krew.Pack(o.dir, t, program, t.Files(program, bin, o.license))
	if err != nil {
		return a, err
	}
	doc, err := sbomOf(filepath.Base(a.Path), o.version, o.created, []string{bin})
	if err != nil {
		return a, err
	}
	return a, writeJSON(a.Path+".spdx.json", doc)
}

// addImage copies coredns-fed's image archive into the release and writes
// its SBOM, from the binaries the image was built from.
func addImage(o options) error {
	dst := filepath.Join(o.dir, filepath.Base(o.image))
	if err := copyFile(o.image, dst); err != nil {
		return fmt.Errorf("copying the image: %w", err)
	}
	var bins []string
	for _, t := range krew.Targets {
		if t.OS == "linux" {
			bins = append(bins, o.binary(t, "coredns-fed"))
		}
	}
	doc, err := sbomOf(filepath.Base(dst), o.version, o.created, bins)
	if err != nil {
		return err
	}
	return writeJSON(dst+".spdx.json", doc)
}

// writeManifest writes fed.yaml for the kubectl-fed archives, reads it back
// as krew will, and checks it and every archive it names.
func writeManifest(o options, archives []krew.Archive) error {
	p, err := krew.NewPlugin(o.version, o.uri, archives)
	if err != nil {
		return err
	}
	data, err := krew.Marshal(p)
	if err != nil {
		return err
	}
	name := filepath.Join(o.dir, Manifest)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return err
	}
	if p, err = krew.Unmarshal(data); err != nil {
		return err
	}
	errs := []error{krew.Validate(p, Manifest)}
	for _, pl := range p.Spec.Platforms {
		t := krew.Target{OS: pl.Selector.MatchLabels["os"], Arch: pl.Selector.MatchLabels["arch"]}
		errs = append(errs, krew.CheckArchive(pl, filepath.Join(o.dir, t.ArchiveName(krew.Program))))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%s breaks krew's rules:\n%w", name, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
