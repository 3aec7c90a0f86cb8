package translations

import (
	"testing"

	"k8s.io/kubectl/pkg/util/i18n"
)

// TestEnglishIsUntranslated: without a catalog, messages, kubectl's own
// among them, read as written, as kubectl's English catalog has them.
func TestEnglishIsUntranslated(t *testing.T) {
	for _, msg := range []string{
		"Apply a configuration to a resource by file name or stdin",
		"Filename, directory, or URL to files identifying the resource to update",
		"Apply manifests to every member cluster their placement selects",
	} {
		if got := i18n.T(msg); got != msg {
			t.Errorf("i18n.T(%q) = %q", msg, got)
		}
	}
}

func TestLanguage(t *testing.T) {
	for _, tc := range []struct {
		lcAll, lang string
		want        string
		english     bool
	}{
		{"", "", "", true},
		{"", "en_US.UTF-8", "en_US", true},
		{"", "C.UTF-8", "C", true},
		{"", "en_GB.UTF-8", "en_GB", true},
		{"", "fr_FR.UTF-8", "fr_FR", false},
		{"de_DE.UTF-8", "en_US.UTF-8", "de_DE", false},
		{"", "POSIX", "", true},
	} {
		t.Setenv("LC_ALL", tc.lcAll)
		t.Setenv("LC_MESSAGES", "")
		t.Setenv("LANG", tc.lang)
		got := language()
		if got != tc.want || english(got) != tc.english {
			t.Errorf("LC_ALL=%q LANG=%q: %q (english %v), want %q (english %v)", tc.lcAll, tc.lang, got, english(got), tc.want, tc.english)
		}
	}
}
