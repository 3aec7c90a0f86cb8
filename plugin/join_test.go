package plugin

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
)

// runFed runs `kubectl fed args...` as main does, catching the exit that
// kubectl's error handling would make, and returns what was printed and
// the exit code.
func runFed(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	code = 0
	cmdutil.BehaviorOnFatal(func(msg string, c int) {
		errOut.WriteString(msg)
		code = c
		panic(fatal{})
	})
	defer cmdutil.DefaultBehaviorOnFatal()
	cmd := NewCmdFed(streams)
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatal); !ok {
					panic(r)
				}
			}
		}()
		if err := cmd.Execute(); err != nil {
			errOut.WriteString("error: " + err.Error() + "\n")
			code = 1
		}
	}()
	return out.String(), errOut.String(), code
}

type fatal struct{}

// TestUsageErrors checks what a user sees for mistakes caught before any
// cluster is contacted: kubectl's "error: ..." and a pointer to -h.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"init", "--domain", "demo.example.com"}, []string{
			"error: init takes exactly one argument, the federation's name",
			"See 'kubectl fed init -h' for help and examples"}},
		{[]string{"init", "magicring"}, []string{"error: --domain is required"}},
		{[]string{"init", "magicring", "--domain", "a.example.com", "--dns-zone-name", "b.example.com"},
			[]string{`error: --domain "a.example.com" and --dns-zone-name "b.example.com" disagree`}},
		{[]string{"init", "Magic_Ring", "--domain", "demo.example.com"},
			[]string{`error: invalid federation name "Magic_Ring": a lowercase RFC 1123 label must consist of`}},
		{[]string{"init", "magicring", "--domain", "com"},
			[]string{`error: invalid domain "com": must have at least two labels`}},
		{[]string{"init", "magicring", "--domain", "demo.example.com", "--context", "a", "--host-cluster-context", "b"},
			[]string{`error: --context "a" and --host-cluster-context "b" disagree`}},
		{[]string{"join"}, []string{"error: join takes exactly one argument, the member's name", "See 'kubectl fed join -h'"}},
		{[]string{"join", "eur", "--cluster-context", "eur", "--latitude", "10"},
			[]string{"error: --latitude and --longitude go together"}},
		{[]string{"join", "eur", "--cluster-context", "eur", "--latitude", "91", "--longitude", "0"},
			[]string{"error: invalid coordinates: latitude 91 is outside -90..90"}},
		{[]string{"join", "eur", "--cluster-context", "eur", "--region", "EU_West"},
			[]string{`error: invalid --region "EU_West"`, "(it is part of DNS names)"}},
		{[]string{"join", "eur", "--cluster-context", "eur", "--label", "tier"},
			[]string{`error: invalid --label "tier": it must be key=value`}},
		{[]string{"join", "eur", "--cluster-context", "eur", "--label", "kfed.dev/federation=x"},
			[]string{"the prefix kfed.dev/ is reserved"}},
		{[]string{"join", "eur_1", "--cluster-context", "eur"}, []string{`error: invalid cluster name "eur_1"`}},
		{[]string{"unjoin"}, []string{"error: unjoin takes exactly one argument"}},
		{[]string{"clusters", "-o", "xml"}, []string{`unable to match a printer suitable for the output format "xml"`}},
		{[]string{"clusters", "-l", "a in (b"}, []string{"error: invalid --selector"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, stderr, code := runFed(t, tc.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	got, err := parseLabels([]string{"tier=edge", "example.com/team=dns", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["tier"] != "edge" || got["example.com/team"] != "dns" || got["empty"] != "" {
		t.Errorf("parseLabels = %v", got)
	}
	for _, bad := range []string{"=x", "a b=c", "tier=" + strings.Repeat("x", 64)} {
		if _, err := parseLabels([]string{bad}); err == nil {
			t.Errorf("parseLabels(%q) succeeded", bad)
		}
	}
}
