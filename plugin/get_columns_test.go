package plugin

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/watch"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// columnAnswers returns web in usa and eur, and api, with no replicas, in
// jpn.
func columnAnswers() []*aggregate.Answer {
	return append(objectAnswers(), answer("jpn", info(deployments, object("apps/v1", "Deployment", "shop", "api", nil))))
}

// TestGetCustomColumns prints kubectl's custom columns for the objects of
// every member, after a CLUSTER column, from a spec or a file.
func TestGetCustomColumns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  []string
		golden string
	}{
		{"spec", []string{"-o", "custom-columns=NAME:.metadata.name,REPLICAS:{.spec.replicas},MANAGER:.metadata.managedFields[*].manager"}, "custom-columns.txt"},
		{"no headers", []string{"-o", "custom-columns=NAME:.metadata.name", "--no-headers"}, "custom-columns-no-headers.txt"},
		{"file", []string{"-o", "custom-columns-file=testdata/get/columns.txt"}, "custom-columns-file.txt"},
		// kubectl prints a file's headers all the same; kfed does not.
		{"file no headers", []string{"-o", "custom-columns-file=testdata/get/columns.txt", "--no-headers"}, "custom-columns-file-no-headers.txt"},
		{"sorted", []string{"-o", "custom-columns=NAME:.metadata.name", "--sort-by", ".metadata.name"}, "custom-columns-sorted.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, out, errOut := newTestGetOptions(t, []string{"deployments"}, tc.flags...)
			if err := o.print(columnAnswers(), nil, nil); err != nil {
				t.Fatal(err)
			}
			golden(t, "get/"+tc.golden, out.Bytes())
			if errOut.Len() > 0 {
				t.Errorf("stderr: %s", errOut)
			}
		})
	}
}

// TestGetCustomColumnsErrors: a bad spec or file is refused before any
// member is read, with kubectl's error.
func TestGetCustomColumnsErrors(t *testing.T) {
	for _, tc := range []struct {
		output, want string
	}{
		{"custom-columns", "custom-columns format specified but no custom columns given"},
		{"custom-columns=", "custom-columns format specified but no custom columns given"},
		{"custom-columns=NAME", "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"},
		{"custom-columns=NAME:.metadata.name,AGE", "unexpected custom-columns spec: AGE, expected <header>:<json-path-expr>"},
		{"custom-columns=NAME:{.metadata.name", "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'"},
		{"custom-columns=NAME:.metadata.name[", "unterminated array"},
		{"custom-columns-file=testdata/get/no-such-file", "error reading template testdata/get/no-such-file, open testdata/get/no-such-file: no such file or directory"},
		{"custom-columns-file=testdata/get/columns-no-spec.txt", "invalid template, missing spec line. Expected format is one line of space separated headers, one line of space separated column specs."},
		{"custom-columns-file=testdata/get/columns-mismatch.txt", "number of headers (2) and field specifications (1) don't match"},
	} {
		_, _, _, err := completeGetOptions(t, []string{"deployments"}, "-o", tc.output)
		if err == nil || strings.TrimSpace(err.Error()) != tc.want {
			t.Errorf("-o %s: error %v, want %q", tc.output, err, tc.want)
		}
	}
	_, _, _, err := completeGetOptions(t, []string{"deployments"}, "-o", "custom-columns=NAME:.metadata.name", "-L", "app")
	if want := "--show-labels and --label-columns apply to tables only, not to -o custom-columns=NAME:.metadata.name"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("-L with custom columns: error %v, want %q", err, want)
	}
}

// TestGetWatchCustomColumns prints the header once, then a row for each
// change, lined up under it.
func TestGetWatchCustomColumns(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deployments"}, "-w", "-o", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas")
	p := o.newWatchPrinter(nil)
	if err := p.listing(columnAnswers()); err != nil {
		t.Fatal(err)
	}
	changed := object("apps/v1", "Deployment", "shop", "a-longer-name", map[string]any{"replicas": int64(12)})
	if err := p.event(aggregate.Event{Cluster: "eur", Type: watch.Added, Object: changed, Mapping: deployments}); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"CLUSTER   NAME   REPLICAS",
		"eur       web    5",
		"jpn       api    <none>",
		"usa       web    5",
		"eur       a-longer-name   12",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("watch:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
	if _, ok := changed.GetAnnotations()[aggregate.AnnotationCluster]; ok {
		t.Error("the watched object was annotated in place")
	}
}
