package main

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kfed-dev/kfed/krew"
)

// An SPDX 2.3 document, with the fields a release's SBOM uses.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string            `json:"name"`
	SPDXID           string            `json:"SPDXID"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	PackageFileName  string            `json:"packageFileName,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	LicenseConcluded string            `json:"licenseConcluded"`
	LicenseDeclared  string            `json:"licenseDeclared"`
	CopyrightText    string            `json:"copyrightText"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxExternalRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

const (
	repository = "https://github.com/kfed-dev/kfed"
	noAssert   = "NOASSERTION"
)

// idUnsafe is what an SPDX identifier may not hold.
var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func spdxID(kind, name string) string {
	return "SPDXRef-" + kind + "-" + idUnsafe.ReplaceAllString(name, "-")
}

// sbomOf describes the artifact name (an archive or an image) holding the
// Go binaries bins: each binary, by its sha256, with the Go toolchain and
// every module linked into it, read from the build information Go records
// in the binary. The document names nothing of the machine or the moment
// it was written on: created is the release's time.
func sbomOf(name, version string, created time.Time, bins []string) (*spdxDocument, error) {
	doc := &spdxDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        name,
		CreationInfo: spdxCreationInfo{
			Created:  created.Format(time.RFC3339),
			Creators: []string{"Organization: kfed", "Tool: kfed-hack-dist"},
		},
	}
	seen := map[string]bool{}
	var modules []spdxPackage
	h := sha256.New()
	for _, bin := range bins {
		info, err := buildinfo.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("reading the build information of %s: %w", bin, err)
		}
		sum, err := krew.FileSha256(bin)
		if err != nil {
			return nil, err
		}
		h.Write([]byte(sum))
		platform := setting(info, "GOOS") + "/" + setting(info, "GOARCH")
		main := spdxPackage{
			Name:             filepath.Base(info.Path) + " (" + platform + ")",
			SPDXID:           spdxID("Binary", filepath.Base(info.Path)+"-"+platform),
			VersionInfo:      version,
			PackageFileName:  filepath.Base(bin),
			DownloadLocation: repository,
			LicenseConcluded: noAssert,
			LicenseDeclared:  "Apache-2.0",
			CopyrightText:    noAssert,
			Checksums:        []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: sum}},
			ExternalRefs:     []spdxExternalRef{purl(info.Main.Path, version)},
		}
		doc.Packages = append(doc.Packages, main)
		doc.Relationships = append(doc.Relationships, spdxRelationship{doc.SPDXID, "DESCRIBES", main.SPDXID})
		deps := []*debugModule{{Path: "stdlib", Version: info.GoVersion}}
		for _, d := range info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			deps = append(deps, &debugModule{Path: d.Path, Version: d.Version, Sum: d.Sum})
		}
		for _, d := range deps {
			id := spdxID("Module", d.Path+"-"+d.Version)
			if !seen[id] {
				seen[id] = true
				modules = append(modules, d.pkg(id))
			}
			doc.Relationships = append(doc.Relationships, spdxRelationship{main.SPDXID, "DEPENDS_ON", id})
		}
	}
	// The binaries, in the order given; then the modules by name.
	slices.SortFunc(modules, func(a, b spdxPackage) int { return strings.Compare(a.SPDXID, b.SPDXID) })
	doc.Packages = append(doc.Packages, modules...)
	doc.DocumentNamespace = fmt.Sprintf("%s/spdx/%s/%s-%s", repository, version, name, hex.EncodeToString(h.Sum(nil))[:16])
	return doc, nil
}

// debugModule is a module linked into a binary.
type debugModule struct{ Path, Version, Sum string }

func (m *debugModule) pkg(id string) spdxPackage {
	p := spdxPackage{
		Name:             m.Path,
		SPDXID:           id,
		VersionInfo:      m.Version,
		DownloadLocation: noAssert,
		LicenseConcluded: noAssert,
		LicenseDeclared:  noAssert,
		CopyrightText:    noAssert,
		ExternalRefs:     []spdxExternalRef{purl(m.Path, m.Version)},
	}
	if m.Path == "stdlib" {
		p.Name = "go"
		p.DownloadLocation = "https://go.dev/dl/"
	}
	return p
}

// purl is the package URL of a Go module.
func purl(path, version string) spdxExternalRef {
	return spdxExternalRef{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: "pkg:golang/" + path + "@" + version}
}

func setting(info *buildinfo.BuildInfo, key string) string {
	for _, s := range info.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return "unknown"
}

// writeJSON writes v, indented, to name.
func writeJSON(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(data, '\n'), 0o644)
}
