package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// TestGetWatchRows prints a listing and the changes that follow it as
// kubectl get --watch does: one header, rows aligned under it, a change
// from a member whose table lacks a column lined up all the same.
func TestGetWatchRows(t *testing.T) {
	o, out, errOut := newTestGetOptions(t, []string{"deployments"}, "-w")
	p := o.newWatchPrinter(webRecords())
	if err := p.listing(webDeployments(t)); err != nil {
		t.Fatal(err)
	}
	changed := serverTable(t, deploymentColumns[:2], row{ns: "shop", name: "web", cells: []any{"web", "5/5"}})
	for _, e := range []aggregate.Event{
		{Cluster: "eur", Type: watch.Modified, Object: changed, Mapping: deployments},
		{Cluster: "jpn", Failed: refused("https://127.0.0.1:40003")},
		{Cluster: "usa", Type: watch.Deleted, Object: changed, Mapping: deployments},
		{Cluster: "jpn", Back: true},
	} {
		if err := p.event(e); err != nil {
			t.Fatal(err)
		}
	}
	golden(t, "get/deployments-watch.txt", out.Bytes())
	want := `member jpn: Get "https://127.0.0.1:40003/api?timeout=10s": connection refused (trying again until it answers)
member jpn: watching again
`
	if errOut.String() != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, want)
	}
}

// TestGetWatchOnlyObjects prints each changed object on its own, with its
// cluster, and with --watch-only the header comes with the first change.
func TestGetWatchOnlyObjects(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deploy", "web"}, "--watch-only", "-o", "json")
	p := o.newWatchPrinter(nil)
	dep := object("apps/v1", "Deployment", "shop", "web", map[string]any{"replicas": int64(5)})
	if err := p.event(aggregate.Event{Cluster: "usa", Type: watch.Modified, Object: dep, Mapping: deployments}); err != nil {
		t.Fatal(err)
	}
	var got unstructured.Unstructured
	if err := json.Unmarshal(out.Bytes(), &got.Object); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if got.GetAnnotations()[aggregate.AnnotationCluster] != "usa" || got.GetName() != "web" || len(got.GetManagedFields()) > 0 {
		t.Errorf("printed:\n%s", out)
	}

	o, out, _ = newTestGetOptions(t, []string{"deployments"}, "--watch-only", "--sort-by", ".metadata.name")
	p = o.newWatchPrinter(nil)
	for _, name := range []string{"web", "api"} {
		tbl := serverTable(t, deploymentColumns, row{ns: "shop", name: name, cells: []any{name, "1/1", 1, 1, "1s"}})
		if err := p.event(aggregate.Event{Cluster: "usa", Type: watch.Added, Object: tbl, Mapping: deployments}); err != nil {
			t.Fatal(err)
		}
	}
	want := "CLUSTER   NAME   READY   UP-TO-DATE   AVAILABLE   AGE\nusa       web    1/1     1            1           1s\nusa       api    1/1     1            1           1s\n"
	if out.String() != want {
		t.Errorf("--watch-only:\n%s\nwant:\n%s", out, want)
	}
}

func TestGetWatchFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		flags     []string
		typ, name string
		err, warn string
	}{
		{args: []string{"pods"}, flags: []string{"-w"}, typ: "pods"},
		{args: []string{"pod", "web"}, flags: []string{"--watch-only"}, typ: "pod", name: "web"},
		{args: []string{"deploy/web"}, flags: []string{"-w", "-o", "name"}, typ: "deploy", name: "web"},
		{args: []string{"pods"}, flags: []string{"-w", "--sort-by", ".metadata.name"}, typ: "pods",
			warn: "warning: --watch requested, --sort-by will be ignored for watch events received\n"},
		{args: []string{"pods"}, flags: []string{"--watch-only", "--sort-by", ".metadata.name"}, typ: "pods",
			warn: "warning: --watch-only requested, --sort-by will be ignored\n"},
		{args: []string{"deploy,svc"}, flags: []string{"-w"}, err: "--watch follows one type at a time, not deploy,svc: run one kubectl fed get --watch for each"},
		{args: []string{"pod", "a", "b"}, flags: []string{"-w"}, err: "--watch follows at most one named object"},
		{args: []string{"pod/a", "pod/b"}, flags: []string{"-w"}, err: "--watch follows at most one named object"},
		{args: []string{"pods"}, flags: []string{"--sort-by", "{.a}{.b}"}, err: `--sort-by "{.a}{.b}": give one field`},
	} {
		o, _, errOut, err := completeGetOptions(t, tc.args, tc.flags...)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %v: error %v, want %q", tc.args, tc.flags, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v %v: %v", tc.args, tc.flags, err)
			continue
		}
		if o.watchType != tc.typ || o.watchName != tc.name || errOut.String() != tc.warn {
			t.Errorf("%v %v: watches %q %q, stderr %q; want %q %q, %q", tc.args, tc.flags, o.watchType, o.watchName, errOut, tc.typ, tc.name, tc.warn)
		}
	}
}
