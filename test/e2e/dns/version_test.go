//go:build e2e

package dns_test

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestVersionsStamped runs both programs as a user would and checks that
// each prints the semantic version, the full commit and the build date the
// Makefile stamped (hack/gitversion).
func TestVersionsStamped(t *testing.T) {
	semver := `v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?`
	commit := `[0-9a-f]{40}`
	date := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`
	for _, tc := range []struct {
		cmd  []string
		want *regexp.Regexp
	}{
		{[]string{"kubectl", "fed", "version"}, regexp.MustCompile(`^kubectl-fed ` + semver + ` \(commit ` + commit + `, built ` + date + `, go`)},
		{[]string{"coredns-fed", "-version"}, regexp.MustCompile(`^coredns-fed-` + semver + ` \(CoreDNS [\d.]+, built ` + date + `\)\n.*, ` + commit + `\n`)},
	} {
		out, err := exec.Command(tc.cmd[0], tc.cmd[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", tc.cmd, err, out)
		}
		if !tc.want.Match(out) {
			t.Errorf("%v printed %q, want it to match %s", tc.cmd, out, tc.want)
		}
	}
}
