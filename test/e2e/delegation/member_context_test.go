//go:build e2e

package delegation_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// memberContext checks --member-context on status and dns explain: with a
// kubeconfig whose context for jpn is named "tokyo", jpn's pods are asked
// only once the flag says so; a context that reaches another member is refused by cluster ID,
// and a name that is no member is an error that lists the members.
func memberContext(t *testing.T) {
	cfg, err := clientcmd.LoadFromFile(kubectl.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	jpn, ok := cfg.Contexts["jpn"]
	if !ok {
		t.Fatalf("the lab's kubeconfig has no context jpn")
	}
	cfg.Contexts["tokyo"] = jpn
	delete(cfg.Contexts, "jpn")
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	renamed := &framework.Kubectl{Path: kubectl.Path, Kubeconfig: path}

	// syncError runs status and returns jpn's server's SyncError, failing
	// if jpn has no server or its pods' last sync is missing without one.
	syncError := func(t *testing.T, args ...string) string {
		t.Helper()
		res, err := renamed.Run(t.Context(), append([]string{"fed", "status", "--context", host, "--drift=false", "-o", "json"}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Servers []struct {
				Cluster, SyncError string
				Pods               []struct{ Name, Error string }
			}
		}
		if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
			t.Fatalf("%v in:\n%s", err, res)
		}
		for _, s := range st.Servers {
			if s.Cluster != "jpn" {
				continue
			}
			if s.SyncError == "" && len(s.Pods) == 0 {
				t.Fatalf("jpn's server has neither pods nor an error:\n%s", res)
			}
			for _, p := range s.Pods {
				if p.Error != "" {
					t.Errorf("jpn's pod %s: %s", p.Name, p.Error)
				}
			}
			return s.SyncError
		}
		t.Fatalf("status shows no server of jpn:\n%s", res)
		return ""
	}

	if got := syncError(t); !strings.Contains(got, `no context named "jpn"`) || !strings.Contains(got, "--member-context jpn=CONTEXT") {
		t.Errorf("without --member-context, jpn's sync error is %q, want one that names the missing context and the flag", got)
	}
	if got := syncError(t, "--member-context", "jpn=tokyo"); got != "" {
		t.Errorf("with --member-context jpn=tokyo, jpn's pods were not read: %s", got)
	}
	if got := syncError(t, "--member-context", "jpn=eur"); !strings.Contains(got, `context "eur" reaches the cluster`) || !strings.Contains(got, "not member jpn") {
		t.Errorf("with --member-context jpn=eur, jpn's sync error is %q, want a refusal by cluster ID", got)
	}
	// explain asks jpn's pods only with the flag, and warns without it.
	explained := func(args ...string) framework.Result {
		t.Helper()
		res, err := renamed.Run(t.Context(), append([]string{"fed", "dns", "explain", appName + "." + appNS, "--context", host, "-o", "json"}, args...)...)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("%v\n%s", err, res)
		}
		return res
	}
	if res := explained(); strings.Contains(res.Stdout, " in jpn\"") || !strings.Contains(res.Stderr, "not asking the coredns-fed pods of jpn") {
		t.Errorf("without --member-context, explain asked jpn's pods or did not warn that it could not:\n%s", res)
	}
	if res := explained("--member-context", "jpn=tokyo"); !strings.Contains(res.Stdout, " in jpn\"") || res.Stderr != "" {
		t.Errorf("with --member-context jpn=tokyo, explain did not ask jpn's pods, or warned:\n%s", res)
	}

	res, err := renamed.Run(t.Context(), "fed", "status", "--context", host, "--drift=false", "--member-context", "osaka=tokyo")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, `"osaka", which is not a member`) || !strings.Contains(res.Stderr, "eur, jpn, usa") {
		t.Errorf("--member-context for a cluster that is no member, want an error that lists the members:\n%s", res)
	}
}
