// Package translations decides when kubectl's message catalogs are loaded
// for kubectl-fed. Import it, for its side effect, from every package that
// calls i18n.T in its package-level variables, so that it runs first.
//
// i18n.T loads a catalog at its first call. For English, the catalog that
// kubectl ships maps every message to itself, yet reading it took 11 ms of
// processor time at every start of kubectl-fed, about a tenth of a
// re-apply that writes nothing. English therefore loads no catalog: the
// messages are the same, and other languages load theirs as before.
package translations

import (
	"os"
	"strings"

	"k8s.io/kubectl/pkg/util/i18n"
)

func init() {
	if english(language()) {
		_ = i18n.SetLoadTranslationsFunc(func() error { return nil })
	}
}

// language returns the language of messages as i18n reads it from the
// environment, such as "fr_FR", or "" when none is set or it is not in the
// form LANGUAGE_TERRITORY.CODESET.
func language() string {
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if s := os.Getenv(v); s != "" {
			pieces := strings.Split(s, ".")
			if len(pieces) != 2 {
				return ""
			}
			return pieces[0]
		}
	}
	return ""
}

// english reports whether lang is one for which i18n picks kubectl's
// English catalog, or its default, which is English too: none, C, POSIX,
// or English of any territory. Other languages without a catalog get the
// default as well, but only i18n knows which those are.
func english(lang string) bool {
	switch lang {
	case "", "C", "POSIX", "en":
		return true
	}
	return strings.HasPrefix(lang, "en_")
}
