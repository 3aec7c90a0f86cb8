// Command gitversion prints the semantic version of a build of the
// checkout it runs in, for the Makefile to stamp into every binary, image
// and release manifest. See Version for the scheme.
//
//	go run ./hack/gitversion
package main

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

func main() {
	fmt.Println(Version(read()))
}

// read asks git for the State of the checkout in the working directory.
// Outside a git checkout every field stays empty.
func read() State {
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	s := State{
		Tag:    git("describe", "--tags", "--exact-match", "--match", "v[0-9]*", "HEAD"),
		Last:   git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD"),
		Commit: git("rev-parse", "--short=12", "HEAD"),
	}
	span := "HEAD"
	if s.Last != "" {
		span = s.Last + "..HEAD"
	}
	s.Since, _ = strconv.Atoi(git("rev-list", "--count", span))
	s.Dirty = s.Commit != "" && git("status", "--porcelain", "--untracked-files=no") != ""
	return s
}
