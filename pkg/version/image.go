package version

import (
	"regexp"
	"strings"
)

// ImageRepository is where the project publishes coredns-fed's image; `make
// image` names the image it builds after it, tagged ImageTag(Version).
const ImageRepository = "ghcr.io/kfed-dev/coredns-fed"

var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// ImageTag turns a version into a valid image tag: `git describe` gives one
// already, a semantic version's build metadata ("+abc") does not.
func ImageTag(v string) string {
	tag := strings.TrimLeft(notInTag.ReplaceAllString(v, "-"), ".-")
	if len(tag) > 128 {
		tag = tag[:128]
	}
	if tag == "" {
		return "latest"
	}
	return tag
}

// CoreDNSFedImage returns the coredns-fed image built from the same commit
// as this program, which `kubectl fed dns install` deploys by default, and
// false for a build that carries no version (`go build` without the
// Makefile), which has no such image.
func CoreDNSFedImage() (string, bool) {
	if Version == "" || Version == "dev" {
		return "", false
	}
	return ImageRepository + ":" + ImageTag(Version), true
}
