package report

import (
	"bytes"
	"strconv"
	"testing"
)

func TestWriteTable(t *testing.T) {
	goals := []Goal{
		{"1", "qps / knotd", ">= 0.5x"},
		{"1", "lost", "0"},
		{"2", "ready", "<= 10s"},
	}
	targets := []Target{
		{Name: "qps / knotd", Case: "policy all", Figure: "0.62x", Baseline: "knotd 131000 QPS", Target: ">= 0.5x", Met: true},
		{Name: "extra", Figure: "3", Met: true},
		{Name: "qps / knotd", Case: "policy geo", Figure: "0.41x", Baseline: "knotd 131000 QPS", Met: false, Note: "ECS costs a lookup"},
		{Name: "lost", Figure: "0", Met: true, Note: "a short run"},
		{Name: "extra", Figure: "4", Met: true, Note: "a short run"},
	}
	var out bytes.Buffer
	if err := WriteTable(&out, goals, targets); err != nil {
		t.Fatal(err)
	}
	// The geo row has no bound of its own: it takes the goal's. The goal
	// nobody measured is "not run"; the target of no goal comes last.
	want := `ITEM  TARGET       CASE        FIGURE  BASELINE          BOUND    VERDICT
1     qps / knotd  policy all  0.62x   knotd 131000 QPS  >= 0.5x  met
1     qps / knotd  policy geo  0.41x   knotd 131000 QPS  >= 0.5x  NOT met*
1     lost         -           0       -                 0        met*
2     ready        -           -       -                 <= 10s   not run
-     extra        -           3       -                 -        met
-     extra        -           4       -                 -        met*
4 met, 1 not met, 1 not run; *: read the note on the figure before the verdict
note, qps / knotd (policy geo): ECS costs a lookup
note, lost and 1 more: a short run
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestGoalsOf(t *testing.T) {
	goals := []Goal{{"1", "a", "x"}, {"2", "b", "y"}, {"3", "c", "z"}}
	got := GoalsOf(goals, []Target{{Name: "c"}, {Name: "other"}, {Name: "a"}, {Name: "c"}})
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "c" {
		t.Errorf("GoalsOf = %+v, want a and c in the goals' order", got)
	}
}

// Every goal has a name of its own, and issue 16's items from 1 to 7
// each have one.
func TestGoals(t *testing.T) {
	seen := map[string]bool{}
	items := map[string]bool{}
	for _, g := range Goals {
		if g.Name == "" || g.Target == "" || seen[g.Name] {
			t.Errorf("goal %+v: empty or repeated", g)
		}
		seen[g.Name] = true
		items[g.Item] = true
	}
	for i := 1; i <= 7; i++ {
		if !items[strconv.Itoa(i)] {
			t.Errorf("no goal of item %d", i)
		}
	}
}
