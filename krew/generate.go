package krew

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"
)

// DefaultURIPattern is where a release's archives are downloaded from. In a
// pattern, ${VERSION} stands for the manifest's version and ${ARCHIVE} for
// the archive's file name.
const DefaultURIPattern = "https://github.com/kfed-dev/kfed/releases/download/${VERSION}/${ARCHIVE}"

// Program is the plugin's binary.
const Program = "kubectl-fed"

const description = `kubectl fed federates Kubernetes clusters without a federation control
plane of its own. The host cluster's API server stores the federation.

Join clusters once, apply a manifest once and have it land in every
member cluster its placement selects, with per-cluster overrides and
replicas split over the members. See the federation's workloads across
every cluster in one table, show drift with diff, and push again with
sync. Install coredns-fed, an authoritative DNS server that answers
from live endpoint health in every member, with kubectl fed dns install.
`

// NewPlugin returns the manifest of kubectl-fed at version, with one
// platform for each archive of kubectl-fed, downloaded from uriPattern.
func NewPlugin(version, uriPattern string, archives []Archive) (*Plugin, error) {
	if !IsSemver(version) {
		return nil, fmt.Errorf("version %q is not a semantic version with a leading v", version)
	}
	p := &Plugin{
		APIVersion: APIVersion,
		Kind:       Kind,
		Metadata:   Metadata{Name: "fed"},
		Spec: PluginSpec{
			Version:          version,
			Homepage:         "https://github.com/kfed-dev/kfed",
			ShortDescription: "Federate clusters: join, apply everywhere, DNS",
			Description:      description,
		},
	}
	for _, a := range archives {
		if a.Program != Program {
			continue
		}
		r := strings.NewReplacer("${VERSION}", version, "${ARCHIVE}", a.ArchiveName(a.Program))
		p.Spec.Platforms = append(p.Spec.Platforms, Platform{
			Selector: Selector{MatchLabels: map[string]string{"os": a.OS, "arch": a.Arch}},
			URI:      r.Replace(uriPattern),
			Sha256:   a.Sha256,
			Files: []FileOperation{
				{From: a.Exe(a.Program), To: "."},
				{From: LicenseFile, To: "."},
			},
			Bin: a.Exe(a.Program),
		})
	}
	if len(p.Spec.Platforms) == 0 {
		return nil, fmt.Errorf("no %s archives", Program)
	}
	return p, nil
}

// Marshal renders p as the YAML of krew/fed.yaml.
func Marshal(p *Plugin) ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Written by `make dist` (hack/dist); do not edit.\n"), b...), nil
}

// Unmarshal reads a manifest, rejecting fields krew's Plugin does not have.
func Unmarshal(data []byte) (*Plugin, error) {
	p := &Plugin{}
	if err := yaml.UnmarshalStrict(data, p); err != nil {
		return nil, err
	}
	return p, nil
}
