package krew

import (
	"fmt"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kfed-dev/kfed/pkg/completion"
)

// DefaultURIPattern is where a release's archives are downloaded from. In a
// pattern, ${VERSION} stands for the manifest's version and ${ARCHIVE} for
// the archive's file name.
const DefaultURIPattern = "https://github.com/kfed-dev/kfed/releases/download/${VERSION}/${ARCHIVE}"

// Program is the plugin's binary.
const Program = "kubectl-fed"

const description = `Treats several Kubernetes clusters as one without running a federation
control plane: the host cluster's own API server stores the federation.
Manifests applied once land in every member cluster their placement
selects, with per-cluster overrides and replicas split over the members,
and the federation's objects can be listed, compared and repaired across
all members at once. A companion authoritative DNS server, coredns-fed,
gives each federated Service one name that answers from live endpoint
health, the client's location and measured latency.
`

// caveats tells krew users the one step krew cannot do for them: krew
// links only the plugin's binary onto PATH (krew issue #812), and kubectl
// completes a plugin only through a kubectl_complete-<plugin> program
// found there.
const caveats = `For kubectl fed <TAB> to complete (kubectl 1.26 and later, with kubectl's own
completion loaded), put kfed's completion helper next to krew's link to the
plugin:

  kubectl fed completion kubectl > "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-fed"
  chmod +x "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-fed"

On Windows, write kubectl_complete-fed.cmd into %USERPROFILE%\.krew\bin instead.
The helper runs kubectl-fed from PATH, so upgrades keep it working.
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
			Caveats:          caveats,
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
				{From: completion.Name(a.OS), To: "."},
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

// Marshal renders p as the YAML of a release's fed.yaml.
func Marshal(p *Plugin) ([]byte, error) {
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Written by `make dist` (hack/dist) for this release; do not edit.\n"), b...), nil
}

// Unmarshal reads a manifest, rejecting fields krew's Plugin does not have.
func Unmarshal(data []byte) (*Plugin, error) {
	p := &Plugin{}
	if err := yaml.UnmarshalStrict(data, p); err != nil {
		return nil, err
	}
	return p, nil
}
