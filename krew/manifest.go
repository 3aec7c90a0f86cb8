// Package krew packs kfed's release archives and writes and checks the krew
// plugin manifest, fed.yaml, that installs kubectl-fed from them.
//
// The manifest's types mirror krew's
// krew.googlecontainertools.github.com/v1alpha2 Plugin, and Validate checks
// the rules krew and krew-index apply to it, so that make dist fails before
// a release is uploaded. The end-to-end tests check the same release with
// krew itself (built from its module in test/tools/krew).
package krew

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// APIVersion and Kind identify a krew plugin manifest.
const (
	APIVersion = "krew.googlecontainertools.github.com/v1alpha2"
	Kind       = "Plugin"
)

// Plugin is a krew plugin manifest.
type Plugin struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Spec       PluginSpec `json:"spec"`
}

// Metadata names the plugin; krew requires the name to match the file name.
type Metadata struct {
	Name string `json:"name"`
}

// PluginSpec describes the plugin and where each platform's build is.
type PluginSpec struct {
	Version          string     `json:"version"`
	Homepage         string     `json:"homepage,omitempty"`
	ShortDescription string     `json:"shortDescription"`
	Description      string     `json:"description,omitempty"`
	Caveats          string     `json:"caveats,omitempty"`
	Platforms        []Platform `json:"platforms"`
}

// Platform is one archive and the systems it installs on.
type Platform struct {
	Selector Selector        `json:"selector"`
	URI      string          `json:"uri"`
	Sha256   string          `json:"sha256"`
	Files    []FileOperation `json:"files"`
	Bin      string          `json:"bin"`
}

// Selector matches the os and arch labels krew gives the running system.
// Only matchLabels is used here; krew accepts a full label selector.
type Selector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

// FileOperation copies the archive's files matching From to To, relative to
// the plugin's install directory.
type FileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

var (
	// semverRE is semver.org's grammar with krew's leading "v".
	semverRE = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
		`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
		`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// nameRE is krew's rule for plugin names.
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

// IsSemver reports whether v is a semantic version with a leading "v", as
// krew requires of spec.version.
func IsSemver(v string) bool { return semverRE.MatchString(v) }

// Validate checks p, read from the file fileName, against krew's rules: the
// name is the file's, the short description is one line, the version is
// semver, every platform has a selector, a sha256, a uri, files and a bin
// (ending in .exe on windows), and no two platforms' selectors match the
// same os and arch. The archives themselves are checked by CheckArchive.
func Validate(p *Plugin, fileName string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.APIVersion != APIVersion {
		bad("apiVersion is %q, want %q", p.APIVersion, APIVersion)
	}
	if p.Kind != Kind {
		bad("kind is %q, want %q", p.Kind, Kind)
	}
	if want := strings.TrimSuffix(path.Base(fileName), ".yaml"); p.Metadata.Name != want {
		bad("metadata.name %q differs from the file name %q", p.Metadata.Name, path.Base(fileName))
	}
	if !nameRE.MatchString(p.Metadata.Name) {
		bad("metadata.name %q is not a valid plugin name", p.Metadata.Name)
	}
	s := p.Spec
	if s.ShortDescription == "" || strings.ContainsAny(s.ShortDescription, "\r\n") {
		bad("shortDescription must be one non-empty line, not %q", s.ShortDescription)
	}
	if !IsSemver(s.Version) {
		bad("version %q is not a semantic version with a leading v (such as v1.2.3)", s.Version)
	}
	if len(s.Platforms) == 0 {
		bad("no platforms")
	}
	for i, pl := range s.Platforms {
		where := fmt.Sprintf("platforms[%d]", i)
		osName, arch := pl.Selector.MatchLabels["os"], pl.Selector.MatchLabels["arch"]
		if osName == "" || arch == "" {
			bad("%s: selector must match both os and arch labels", where)
		}
		if !sha256RE.MatchString(pl.Sha256) {
			bad("%s: sha256 %q is not 64 lowercase hex characters", where, pl.Sha256)
		}
		if pl.URI == "" {
			bad("%s: no uri", where)
		}
		if len(pl.Files) == 0 {
			bad("%s: no files", where)
		}
		if pl.Bin == "" {
			bad("%s: no bin", where)
		}
		if osName == "windows" && !strings.HasSuffix(pl.Bin, ".exe") {
			bad("%s: bin %q on windows must end in .exe", where, pl.Bin)
		}
		for j := range i {
			if selectorsOverlap(pl.Selector, s.Platforms[j].Selector) {
				bad("%s: selector overlaps that of platforms[%d]", where, j)
			}
		}
	}
	return errors.Join(errs...)
}

// selectorsOverlap reports whether one system could match both selectors:
// with matchLabels only, that is when no label both name differs.
func selectorsOverlap(a, b Selector) bool {
	for k, v := range a.MatchLabels {
		if w, ok := b.MatchLabels[k]; ok && w != v {
			return false
		}
	}
	return true
}
