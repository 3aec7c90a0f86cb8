package main

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

func TestContinueOf(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"7","continue":"abc"},"rows":[{"cells":["x"]}]}`, "abc"},
		{`{"kind":"Table","metadata":{"resourceVersion":"7"},"rows":[]}`, ""},
		// Wherever the server puts it, the token is found.
		{`{"rows":[{"cells":["x","y"],"object":{"metadata":{"continue":"not this"}}}],"metadata":{"continue":"def"}}`, "def"},
		{`{"kind":"ServiceList","items":[]}`, ""},
	} {
		got, err := continueOf([]byte(c.body))
		if err != nil || got != c.want {
			t.Errorf("continueOf(%s) = %q, %v; want %q", c.body, got, err, c.want)
		}
	}
	if _, err := continueOf([]byte(`[1,2]`)); err == nil {
		t.Error("an array was read as a list")
	}
}

// A get over its bound says whether the members' own lists, or kfed,
// took the time.
func TestGetWhy(t *testing.T) {
	row := func(took, lists time.Duration) *getRow {
		return &getRow{services: 2500, clusters: 20, rounds: 3, rows: 50001, kfed: measured{took: took, cpu: time.Second}, lists: lists, baseline: 20 * time.Second}
	}
	for _, c := range []struct {
		took, lists time.Duration
		met         bool
		note        string
	}{
		{1500 * time.Millisecond, 700 * time.Millisecond, true, ""},
		{3 * time.Second, 2500 * time.Millisecond, false, "the members alone took 2.5s to answer their lists"},
		{3 * time.Second, time.Second, false, "kfed took 2s over the members' own lists (1s), decoding, merging and printing 50001 rows"},
	} {
		got := row(c.took, c.lists).print()
		if len(got) != 1 {
			t.Fatalf("%d targets", len(got))
		}
		g := got[0]
		if g.Name != report.GetAll || g.Met != c.met || !strings.HasPrefix(g.Note, c.note) || (c.note == "" && g.Note != "") {
			t.Errorf("kfed %s over lists of %s: %+v, want met %v, note %q", c.took, c.lists, g, c.met, c.note)
		}
		if !strings.HasPrefix(g.Baseline, "members' own lists at once "+c.lists.String()+"; kubectl get svc -A in turn 20s") {
			t.Errorf("baseline %q", g.Baseline)
		}
	}
	if n, want := row(3*time.Second, time.Second).why(), fmt.Sprintf("on %d cores", runtime.NumCPU()); !strings.HasSuffix(n, want) {
		t.Errorf("note %q does not end with %q", n, want)
	}
}

func TestParseParts(t *testing.T) {
	got, err := parseParts("get, floor")
	if err != nil || len(got) != 2 || !got["get"] || !got["floor"] {
		t.Errorf("get, floor: %v, %v", got, err)
	}
	if _, err := parseParts("get,fetch"); err == nil || !strings.Contains(err.Error(), `"fetch" is not a part`) {
		t.Errorf("an unknown part: %v", err)
	}
}
