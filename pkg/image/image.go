// Package image assembles coredns-fed's container image without a
// container engine and without pulling a base: a base layer the project
// writes itself (user and group databases, Mozilla's CA roots), the static
// binary on top, and an OCI index with one image per platform.
//
// Every input that could change between two builds of one commit is fixed:
// file times and owners in the layers, the creation time (the commit's),
// the order of entries and platforms. Two builds from the same binaries and
// options give the same digests.
package image

import (
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BinaryPath is where the program lies in the image, and its entrypoint.
const BinaryPath = "coredns-fed"

// The ports coredns-fed serves: DNS over UDP and TCP, and Prometheus
// metrics. The image declares them; the Deployment opens them.
var exposedPorts = []string{"53/tcp", "53/udp", "9153/tcp"}

// Options describe one build of the image.
type Options struct {
	// Version is the program's version, for the version label and the tag.
	Version string
	// Revision is the commit the binaries were built from.
	Revision string
	// Source is the URL of the source repository.
	Source string
	// Created is the image's creation time; use the commit's time, not the
	// clock, so that a rebuild gives the same image.
	Created time.Time
	// CABundle is the PEM bundle installed at /etc/ssl/certs; MozillaRoots
	// gives the one the project ships.
	CABundle []byte
}

// Platform is one image of the index: the OS and architecture, and the
// static binary built for them.
type Platform struct {
	OS, Architecture string
	// Binary is the program's content.
	Binary []byte
}

func (p Platform) String() string { return p.OS + "/" + p.Architecture }

// Labels returns the OCI labels the image config and the index carry.
func (o Options) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "coredns-fed",
		"org.opencontainers.image.description": "CoreDNS with the fed plugin: authoritative DNS for a kfed federation",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

func (o Options) validate() error {
	switch {
	case o.Version == "":
		return fmt.Errorf("no version given")
	case o.Revision == "":
		return fmt.Errorf("no revision given")
	case o.Source == "":
		return fmt.Errorf("no source URL given")
	case o.Created.IsZero():
		return fmt.Errorf("no creation time given")
	case len(o.CABundle) == 0:
		return fmt.Errorf("no CA bundle given")
	}
	return nil
}

// Image builds the image of one platform: the base layer, then the binary.
func Image(o Options, p Platform) (v1.Image, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if len(p.Binary) == 0 {
		return nil, fmt.Errorf("%s: no binary given", p)
	}
	base, err := newLayer(baseFiles(o.CABundle), o.Created)
	if err != nil {
		return nil, fmt.Errorf("%s: base layer: %w", p, err)
	}
	bin, err := newLayer([]File{{Path: BinaryPath, Mode: 0o755, Data: p.Binary}}, o.Created)
	if err != nil {
		return nil, fmt.Errorf("%s: binary layer: %w", p, err)
	}

	ports := map[string]struct{}{}
	for _, port := range exposedPorts {
		ports[port] = struct{}{}
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Created:      v1.Time{Time: o.Created.UTC()},
		Config: v1.Config{
			User:         fmt.Sprintf("%d:%d", NonrootUID, NonrootUID),
			Entrypoint:   []string{"/" + BinaryPath},
			WorkingDir:   "/",
			ExposedPorts: ports,
			Labels:       o.Labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: o.Created.UTC()}
	return mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "kfed: base (passwd, group, CA roots)", Comment: "pkg/image"}},
		mutate.Addendum{Layer: bin, History: v1.History{Created: created, CreatedBy: "kfed: /" + BinaryPath, Comment: "pkg/image"}},
	)
}

// Index builds one image per platform and puts them into an OCI index,
// ordered by platform so that the order of the arguments does not matter.
// The index carries the labels as annotations, where registries show them
// for a multi-platform image.
func Index(o Options, platforms []Platform) (v1.ImageIndex, error) {
	if len(platforms) == 0 {
		return nil, fmt.Errorf("no platform given")
	}
	sorted := append([]Platform(nil), platforms...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].String() < sorted[j].String() })

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, p := range sorted {
		if i > 0 && sorted[i-1].String() == p.String() {
			return nil, fmt.Errorf("platform %s is given twice", p)
		}
		img, err := Image(o, p)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: p.OS, Architecture: p.Architecture},
			},
		})
	}
	return mutate.Annotations(idx, o.Labels()).(v1.ImageIndex), nil
}
