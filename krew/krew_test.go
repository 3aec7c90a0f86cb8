package krew

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kfed-dev/kfed/pkg/completion"
)

// pack packs a stand-in binary for every target into a temporary directory.
func pack(t *testing.T) (string, []Archive) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	license := filepath.Join(dir, "LICENSE.txt")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho stand-in\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(license, []byte("Apache License\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var archives []Archive
	for _, tg := range Targets {
		a, err := Pack(dir, tg, Program, tg.Files(Program, bin, license))
		if err != nil {
			t.Fatal(err)
		}
		archives = append(archives, a)
	}
	return dir, archives
}

// TestManifestFollowsKrewRules packs every platform, writes the manifest,
// reads it back and checks it and each archive against krew's rules.
func TestManifestFollowsKrewRules(t *testing.T) {
	dir, archives := pack(t)
	p, err := NewPlugin("v0.1.0-dev.3+abc1234.dirty", DefaultURIPattern, archives)
	if err != nil {
		t.Fatal(err)
	}
	data, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	p, err = Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(p, "krew/fed.yaml"); err != nil {
		t.Fatal(err)
	}
	if got := len(p.Spec.Platforms); got != len(Targets) {
		t.Errorf("%d platforms, want %d", got, len(Targets))
	}
	for _, pl := range p.Spec.Platforms {
		tg := Target{pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]}
		archive := filepath.Join(dir, tg.ArchiveName(Program))
		if err := CheckArchive(pl, archive); err != nil {
			t.Error(err)
		}
		if want := "https://github.com/kfed-dev/kfed/releases/download/v0.1.0-dev.3+abc1234.dirty/" + tg.ArchiveName(Program); pl.URI != want {
			t.Errorf("uri %s, want %s", pl.URI, want)
		}
		members, err := ArchiveMembers(archive)
		if err != nil {
			t.Fatal(err)
		}
		if want := sorted([]string{LicenseFile, tg.Exe(Program), completion.Name(tg.OS)}); !slices.Equal(sorted(members), want) {
			t.Errorf("%s holds %v, want %v", filepath.Base(archive), members, want)
		}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestValidateRejects breaks each rule once.
func TestValidateRejects(t *testing.T) {
	_, archives := pack(t)
	for _, tc := range []struct {
		name, file, want string
		breakIt          func(p *Plugin)
	}{
		{"file name", "krew/kfed.yaml", "differs from the file name", func(*Plugin) {}},
		{"two lines", "fed.yaml", "one non-empty line", func(p *Plugin) { p.Spec.ShortDescription = "a\nb" }},
		{"version", "fed.yaml", "not a semantic version", func(p *Plugin) { p.Spec.Version = "2984b81-dirty" }},
		{"no v", "fed.yaml", "not a semantic version", func(p *Plugin) { p.Spec.Version = "1.2.3" }},
		{"sha256", "fed.yaml", "64 lowercase hex", func(p *Plugin) { p.Spec.Platforms[0].Sha256 = "abc" }},
		{"overlap", "fed.yaml", "overlaps", func(p *Plugin) { delete(p.Spec.Platforms[1].Selector.MatchLabels, "arch") }},
		{"exe", "fed.yaml", "must end in .exe", func(p *Plugin) { p.Spec.Platforms[len(p.Spec.Platforms)-1].Bin = "kubectl-fed" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlugin("v1.2.3", DefaultURIPattern, archives)
			if err != nil {
				t.Fatal(err)
			}
			tc.breakIt(p)
			err = Validate(p, tc.file)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestCheckArchiveRejects catches a wrong digest and a missing LICENSE.
func TestCheckArchiveRejects(t *testing.T) {
	dir, archives := pack(t)
	p, err := NewPlugin("v1.2.3", DefaultURIPattern, archives)
	if err != nil {
		t.Fatal(err)
	}
	pl := p.Spec.Platforms[0]
	archive := filepath.Join(dir, Targets[0].ArchiveName(Program))
	wrong := pl
	wrong.Sha256 = strings.Repeat("0", 64)
	if err := CheckArchive(wrong, archive); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("wrong digest: %v", err)
	}
	noLicense := pl
	noLicense.Files = pl.Files[:1]
	if err := CheckArchive(noLicense, archive); err == nil || !strings.Contains(err.Error(), LicenseFile) {
		t.Errorf("no LICENSE rule: %v", err)
	}
}

// TestPackIsReproducible packs the same files twice, apart in time, and
// gets the same bytes: the archives record no times or owners.
func TestPackIsReproducible(t *testing.T) {
	dir, first := pack(t)
	for i, tg := range Targets {
		again := filepath.Join(dir, "again")
		if err := os.MkdirAll(again, 0o755); err != nil {
			t.Fatal(err)
		}
		files := tg.Files(Program, filepath.Join(dir, "bin"), filepath.Join(dir, "LICENSE.txt"))
		a, err := Pack(again, tg, Program, files)
		if err != nil {
			t.Fatal(err)
		}
		if a.Sha256 != first[i].Sha256 {
			t.Errorf("%s: packed twice, sha256 %s then %s", tg, first[i].Sha256, a.Sha256)
		}
	}
}

// TestManifestGuide checks what krew-index's guide asks of the text: a
// homepage, a description that says what the plugin does rather than
// listing its subcommands, and caveats that tell krew users how to get
// completion, since krew links only the plugin's binary.
func TestManifestGuide(t *testing.T) {
	_, archives := pack(t)
	p, err := NewPlugin("v1.2.3", DefaultURIPattern, archives)
	if err != nil {
		t.Fatal(err)
	}
	s := p.Spec
	if !strings.HasPrefix(s.Homepage, "https://") {
		t.Errorf("homepage %q", s.Homepage)
	}
	for _, sub := range []string{"kubectl fed", "join", "apply", "diff", "sync", "dns install", "init"} {
		if strings.Contains(s.Description, sub) {
			t.Errorf("the description names the subcommand %q:\n%s", sub, s.Description)
		}
	}
	for _, want := range []string{"kubectl fed completion kubectl", "kubectl_complete-fed", "chmod +x", "kubectl_complete-fed.cmd"} {
		if !strings.Contains(s.Caveats, want) {
			t.Errorf("the caveats do not say %q:\n%s", want, s.Caveats)
		}
	}
	for _, pl := range s.Platforms {
		var from []string
		for _, f := range pl.Files {
			from = append(from, f.From)
		}
		if !slices.Contains(from, completion.Name(pl.Selector.MatchLabels["os"])) {
			t.Errorf("%v: files %v do not install the completion helper", pl.Selector.MatchLabels, from)
		}
	}
}
