package main

import (
	"fmt"
	"regexp"
	"strconv"
)

// State is what git says of the checkout a build is made from.
type State struct {
	// Tag is a version tag on HEAD itself, "" when there is none.
	Tag string
	// Last is the newest version tag HEAD descends from, "" when there
	// is none, and Since the number of commits from it to HEAD (from the
	// root when there is no tag).
	Last  string
	Since int
	// Commit is HEAD's abbreviated hash, "" outside a git checkout.
	Commit string
	// Dirty is set when a tracked file differs from HEAD. Untracked files
	// do not count: the build writes some (dist/, bin/), and a file git
	// does not know cannot be part of the commit being stamped.
	Dirty bool
}

// release matches a tag that names a release or pre-release, such as
// v0.2.0 or v1.0.0-rc.1, without build metadata.
var release = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)

// Version is the semantic version a build of s carries.
//
// A clean checkout of a release tag is that release: v0.2.0. Anything else
// is a pre-release of the next version, numbered by its distance from the
// last tag, so that versions of later commits order after earlier ones as
// semver (and so krew, for upgrades) compares them:
//
//	v0.2.0-dev.3+a1b2c3d          three commits after v0.1.x
//	v0.2.0-dev.3+a1b2c3d.dirty    the same, with local changes
//	v1.0.0-rc.1.dev.2+a1b2c3d     two commits after the pre-release v1.0.0-rc.1
//	v0.1.0-dev.42+a1b2c3d         42 commits, no tag yet
//
// The hash is build metadata, which semver ignores when ordering: two
// builds with the same number are builds of the same commit or of
// changes to it.
func Version(s State) string {
	if s.Tag != "" && release.MatchString(s.Tag) && !s.Dirty {
		return s.Tag
	}
	next := "v0.1.0-dev"
	if m := release.FindStringSubmatch(s.Last); m != nil {
		if m[4] != "" {
			// After a pre-release comes more of the same pre-release.
			next = s.Last + ".dev"
		} else {
			minor, _ := strconv.Atoi(m[2])
			next = fmt.Sprintf("v%s.%d.0-dev", m[1], minor+1)
		}
	}
	v := fmt.Sprintf("%s.%d", next, s.Since)
	meta := s.Commit
	if meta == "" {
		meta = "unknown"
	}
	if s.Dirty {
		meta += ".dirty"
	}
	return v + "+" + meta
}
