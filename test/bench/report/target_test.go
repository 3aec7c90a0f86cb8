package report

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Targets recorded by one process, then another, are read back in order:
// the file is how the bench programs of one run hand them to the summary.
func TestRecordReadTargets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	t.Setenv(OutDirEnv, dir)
	first := Target{Name: DNSVersusKnot, Case: "policy all", Figure: "0.62x", Baseline: "knotd", Target: ">= 0.5x", Met: true}
	second := Target{Name: DNSLost, Figure: "0", Met: true, Note: "short run"}
	if err := Record(first); err != nil {
		t.Fatal(err)
	}
	if err := appendTargets(filepath.Join(dir, TargetsFile), []Target{second}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadTargets(filepath.Join(dir, TargetsFile))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Target{first, second}; !reflect.DeepEqual(got, want) {
		t.Errorf("read %+v, want %+v", got, want)
	}
	if rec := Recorded(); len(rec) == 0 || rec[len(rec)-1] != first {
		t.Errorf("Recorded() = %+v, want it to end with %+v", rec, first)
	}
}

func TestReadTargetsMissingFile(t *testing.T) {
	got, err := ReadTargets(filepath.Join(t.TempDir(), "none.jsonl"))
	if err != nil || got != nil {
		t.Errorf("ReadTargets of a missing file = %v, %v; want nothing, no error", got, err)
	}
}

func TestReadTargetsBadLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), TargetsFile)
	if err := os.WriteFile(path, []byte("{\"name\":\"a\"}\n\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadTargets(path)
	if err == nil || !strings.Contains(err.Error(), TargetsFile+":3:") {
		t.Errorf("error %v, want one naming line 3", err)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 2500: "2,500", 50000: "50,000", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := Thousands(n); got != want {
			t.Errorf("Thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestJoinNotes(t *testing.T) {
	for _, c := range []struct {
		notes []string
		want  string
	}{
		{nil, ""},
		{[]string{"", ""}, ""},
		{[]string{"sampled", ""}, "sampled"},
		{[]string{"", "slow members"}, "slow members"},
		{[]string{"sampled", "slow members"}, "sampled; slow members"},
	} {
		if got := JoinNotes(c.notes...); got != c.want {
			t.Errorf("JoinNotes(%q) = %q, want %q", c.notes, got, c.want)
		}
	}
}
