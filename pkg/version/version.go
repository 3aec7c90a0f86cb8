// Package version holds the build's version, stamped by the Makefile with
// -ldflags from git.
package version

import (
	"fmt"
	"runtime"
)

// These are set at link time: -X github.com/kfed-dev/kfed/pkg/version.Version=...
var (
	// Version is the output of `git describe --tags --always --dirty`.
	Version = "dev"
	// GitCommit is the full commit hash the binary was built from.
	GitCommit = "unknown"
	// BuildDate is the build time in RFC 3339, UTC.
	BuildDate = "unknown"
)

// Info describes one build of a kfed binary.
type Info struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build information of the running binary.
func Get() Info {
	return Info{
		Version:   Version,
		GitCommit: GitCommit,
		BuildDate: BuildDate,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String renders the information on one line.
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, built %s, %s, %s)", i.Version, i.GitCommit, i.BuildDate, i.GoVersion, i.Platform)
}
