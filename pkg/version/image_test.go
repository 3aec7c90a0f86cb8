package version

import "testing"

func TestImageTag(t *testing.T) {
	for in, want := range map[string]string{
		"v0.2.0":                 "v0.2.0",
		"v0.2.0-3-gabcdef-dirty": "v0.2.0-3-gabcdef-dirty",
		"v0.0.0-dev+2636e90":     "v0.0.0-dev-2636e90",
		".hidden":                "hidden",
		"":                       "latest",
	} {
		if got := ImageTag(in); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCoreDNSFedImage(t *testing.T) {
	saved := Version
	t.Cleanup(func() { Version = saved })

	Version = "dev"
	if img, ok := CoreDNSFedImage(); ok {
		t.Errorf("a build without a version has image %q, want none", img)
	}
	Version = "v1.2.3+meta"
	if img, ok := CoreDNSFedImage(); !ok || img != "ghcr.io/kfed-dev/coredns-fed:v1.2.3-meta" {
		t.Errorf("CoreDNSFedImage() = %q, %v; want ghcr.io/kfed-dev/coredns-fed:v1.2.3-meta", img, ok)
	}
}
