package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kfed-dev/kfed/pkg/version"
)

func TestVersion(t *testing.T) {
	version.Version, version.GitCommit, version.BuildDate = "v0.1.0", "abc123", "2026-01-02T03:04:05Z"
	t.Cleanup(func() { version.Version, version.GitCommit, version.BuildDate = "dev", "unknown", "unknown" })

	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	cmd := NewCmdFed(streams)
	cmd.SetArgs([]string{"version"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "kubectl-fed v0.1.0 (commit abc123, built 2026-01-02T03:04:05Z, go") {
		t.Errorf("version output %q", out.String())
	}

	streams, _, out, _ = genericiooptions.NewTestIOStreams()
	o := NewVersionOptions(streams)
	o.Output = "json"
	if err := o.Run(); err != nil {
		t.Fatal(err)
	}
	var info version.Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatalf("-o json is not JSON: %v\n%s", err, out)
	}
	if info.Version != "v0.1.0" || info.GitCommit != "abc123" {
		t.Errorf("-o json: %+v", info)
	}
	o.Output = "xml"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "'yaml' or 'json'") {
		t.Errorf("Validate with -o xml: %v", err)
	}
}
