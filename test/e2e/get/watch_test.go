//go:build e2e

package get

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// watcher is `kubectl fed get ... --watch` running in the background, its
// output read as it comes.
type watcher struct {
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed once kubectl has exited

	mu             sync.Mutex
	stdout, stderr bytes.Buffer
	exitCode       int
}

// syncWriter appends to a buffer under the watcher's lock.
type syncWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// startWatch runs `kubectl fed get ARGS --context usa` in the background.
// It is killed if it is still running 5 minutes on, or when the test ends.
func startWatch(t *testing.T, args ...string) *watcher {
	t.Helper()
	return startKubectl(t, append(append([]string{"fed", "get"}, args...), "--context", hostCtx)...)
}

// startKubectl runs `kubectl ARGS` in the background, as startWatch does.
func startKubectl(t *testing.T, args ...string) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	w := &watcher{args: args, done: make(chan struct{})}
	w.cmd = exec.CommandContext(ctx, kubectl.Path, append(args, "--kubeconfig", kubectl.Kubeconfig)...)
	w.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubectl.Kubeconfig)
	w.cmd.Stdout = syncWriter{&w.mu, &w.stdout}
	w.cmd.Stderr = syncWriter{&w.mu, &w.stderr}
	if err := w.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		err := w.cmd.Wait()
		cancel()
		w.mu.Lock()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			w.exitCode = exitErr.ExitCode()
		}
		w.mu.Unlock()
		close(w.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
		t.Logf("%s", w)
	})
	return w
}

func (w *watcher) output() (stdout, stderr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stdout.String(), w.stderr.String()
}

func (w *watcher) String() string {
	stdout, stderr := w.output()
	return fmt.Sprintf("$ kubectl %s\n--- stdout\n%s--- stderr\n%s", strings.Join(w.args, " "), stdout, stderr)
}

// waitFor fails the test unless check passes on the output so far within
// timeout.
func (w *watcher) waitFor(t *testing.T, timeout time.Duration, what string, check func(stdout, stderr string) error) {
	t.Helper()
	eventually(t, timeout, what, func(context.Context) error {
		select {
		case <-w.done:
			return fmt.Errorf("kubectl exited:\n%s", w)
		default:
		}
		if err := check(w.output()); err != nil {
			return fmt.Errorf("%w\n%s", err, w)
		}
		return nil
	})
}

// wait returns kubectl's exit code once it has exited, failing the test
// unless that is within timeout.
func (w *watcher) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(timeout):
		t.Fatalf("still running after %s:\n%s", timeout, w)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.exitCode
}

// interrupt sends SIGINT, as Ctrl-C does, and returns the exit code.
// kubectl runs a plugin in its own place, so the signal reaches
// kubectl-fed.
func (w *watcher) interrupt(t *testing.T) int {
	t.Helper()
	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	return w.wait(t, 10*time.Second)
}

// watchRows parses the rows of a watched table, CLUSTER first, leaving out
// the header.
func watchRows(stdout string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(stdout, "\n"), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "CLUSTER" {
			rows = append(rows, f)
		}
	}
	return rows
}

// count returns how many rows of stdout begin with the fields of want.
func count(stdout string, want ...string) int {
	n := 0
	for _, r := range watchRows(stdout) {
		if len(r) >= len(want) && reflect.DeepEqual(r[:len(want)], want) {
			n++
		}
	}
	return n
}

// hasRows returns an error unless stdout has, for each of want, a row that
// begins with its fields.
func hasRows(stdout string, want ...[]string) error {
	for _, w := range want {
		if count(stdout, w...) == 0 {
			return fmt.Errorf("no row %v", w)
		}
	}
	return nil
}

func configMap(name, ns, label string, data string) string {
	return fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: %s, namespace: %s, labels: {test: %s}}, data: {%s}}`, name, ns, label, data)
}

// patchData sets a key of a ConfigMap in a member, directly with client-go.
func patchData(t *testing.T, cluster, ns, name, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"data":{%q:%q}}`, key, value)
	_, err := testLab.Cluster(cluster).Client().CoreV1().ConfigMaps(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("%s: patching ConfigMap %s: %v", cluster, name, err)
	}
}

// TestGetWatch watches the ConfigMaps of every member: changes made
// directly in members show as rows with their CLUSTER, a member whose API
// server stops is reported once while the others are still shown, and its
// rows come again once it is back. Ctrl-C ends the watch with exit 1, as
// it ends kubectl get --watch, and jpn is named at the end.
func TestGetWatch(t *testing.T) {
	namespace(t, "watch")
	for _, c := range members {
		create(t, c, configMap("seed", "watch", "watch", "a: 'x'"))
	}
	w := startWatch(t, "configmaps", "-n", "watch", "-l", "test=watch", "-w")
	w.waitFor(t, 30*time.Second, "the first table", func(stdout, _ string) error {
		if !strings.HasPrefix(stdout, "CLUSTER ") {
			return fmt.Errorf("no header first")
		}
		return hasRows(stdout, []string{"eur", "seed", "1"}, []string{"jpn", "seed", "1"}, []string{"usa", "seed", "1"})
	})

	create(t, "eur", configMap("fresh", "watch", "watch", "a: 'x', b: 'y'"))
	patchData(t, "jpn", "watch", "seed", "b", "y")
	w.waitFor(t, 30*time.Second, "rows of the new ConfigMap in eur and the changed one in jpn", func(stdout, _ string) error {
		return hasRows(stdout, []string{"eur", "fresh", "2"}, []string{"jpn", "seed", "2"})
	})

	// A deleted object shows as it last was.
	if err := testLab.Cluster("eur").Client().CoreV1().ConfigMaps("watch").Delete(context.Background(), "fresh", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, 30*time.Second, "a row of the deleted ConfigMap", func(stdout, _ string) error {
		if n := count(stdout, "eur", "fresh"); n != 2 {
			return fmt.Errorf("%d rows of eur's fresh, want 2", n)
		}
		return nil
	})

	stopMember(t, "jpn")
	w.waitFor(t, 60*time.Second, "jpn's failure on stderr", func(_, stderr string) error {
		if !strings.Contains(stderr, "member jpn: ") {
			return fmt.Errorf("no failure of jpn reported")
		}
		return nil
	})
	create(t, "usa", configMap("during", "watch", "watch", "a: 'x'"))
	patchData(t, "eur", "watch", "seed", "c", "z")
	w.waitFor(t, 30*time.Second, "rows of usa and eur while jpn is down", func(stdout, _ string) error {
		return hasRows(stdout, []string{"usa", "during", "1"}, []string{"eur", "seed", "2"})
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := testLab.Cluster("jpn").StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	w.waitFor(t, 60*time.Second, "jpn watched again", func(_, stderr string) error {
		if !strings.Contains(stderr, "member jpn: watching again\n") {
			return fmt.Errorf("jpn's return not reported")
		}
		return nil
	})
	create(t, "jpn", configMap("after", "watch", "watch", "a: 'x'"))
	w.waitFor(t, 30*time.Second, "a row of jpn again", func(stdout, _ string) error {
		return hasRows(stdout, []string{"jpn", "after", "1"})
	})

	// Interrupted, kubectl get --watch exits 1; and jpn was away.
	if code := w.interrupt(t); code != 1 {
		t.Errorf("exit %d after an interrupt, want 1", code)
	}
	stdout, stderr := w.output()
	if n := strings.Count(stdout, "CLUSTER "); n != 1 {
		t.Errorf("%d headers, want 1", n)
	}
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "member jpn: ") || lines[1] != "member jpn: watching again" ||
		!strings.HasPrefix(lines[2], "error: cluster jpn: ") || !strings.HasSuffix(lines[2], "; watched again once it answered, but objects deleted meanwhile were not shown") {
		t.Errorf("stderr %q, want jpn's failure once, then its return, then jpn named at the end", stderr)
	}
	for _, r := range watchRows(stdout) {
		if len(r) != 4 {
			t.Errorf("row %v: want CLUSTER NAME DATA AGE", r)
		}
	}
}

// TestGetWatchOnlyJSON follows one named object, which only one member has
// at first, as JSON: each change is printed on its own with the member it
// is in, and --request-timeout ends the watch with exit 0.
func TestGetWatchOnlyJSON(t *testing.T) {
	namespace(t, "watch")
	create(t, "usa", configMap("named", "watch", "named", "a: 'x'"))
	w := startWatch(t, "configmap", "named", "-n", "watch", "--watch-only", "-o", "json", "--request-timeout", "25s")
	// Nothing is printed before a change; give the watches a moment to
	// start.
	time.Sleep(3 * time.Second)
	patchData(t, "usa", "watch", "named", "a", "changed")
	create(t, "eur", configMap("named", "watch", "named", "a: 'new'"))
	create(t, "eur", configMap("other", "watch", "named", "a: 'other'"))

	var got []string
	w.waitFor(t, 30*time.Second, "two objects printed", func(stdout, _ string) error {
		got = nil
		dec := json.NewDecoder(strings.NewReader(stdout))
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			a, _, _ := unstructured.NestedString(u.Object, "data", "a")
			got = append(got, u.GetAnnotations()["kfed.dev/cluster"]+"/"+u.GetName()+"="+a)
		}
		if len(got) < 2 {
			return fmt.Errorf("printed %v", got)
		}
		return nil
	})
	if code := w.wait(t, 40*time.Second); code != 0 {
		t.Errorf("exit %d at --request-timeout, want 0", code)
	}
	stdout, stderr := w.output()
	if err := json.NewDecoder(strings.NewReader(stdout)).Decode(new(map[string]any)); err != nil || stderr != "" {
		t.Errorf("stdout is not JSON objects (%v), or stderr %q", err, stderr)
	}
	if len(got) != 2 || !reflect.DeepEqual(slices.Sorted(slices.Values(got)), []string{"eur/named=new", "usa/named=changed"}) {
		t.Errorf("printed %v, want usa's change and eur's new object only", got)
	}
}

// TestGetWatchFlags refuses what a watch cannot follow, as kubectl get does.
func TestGetWatchFlags(t *testing.T) {
	res := fedGetFail(t, "configmaps,secrets", "-n", "watch", "-w")
	if !strings.Contains(res.Stderr, "--watch follows one type at a time") {
		t.Errorf("stderr %q", res.Stderr)
	}
	res = fedGetFail(t, "configmap", "nowhere", "-n", "watch", "-w")
	if want := "error: configmaps \"nowhere\" not found in any cluster\n"; res.Stderr != want {
		t.Errorf("stderr %q, want %q", res.Stderr, want)
	}
}

// TestGetSortBy sorts the rows of every member together, ties by cluster.
func TestGetSortBy(t *testing.T) {
	namespace(t, "sorted")
	for c, objs := range map[string][][2]string{
		"usa": {{"a", "100"}, {"c", "9"}},
		"eur": {{"b", "10"}, {"d", "1"}},
		"jpn": {{"b", "1000"}},
	} {
		for _, o := range objs {
			create(t, c, configMap(o[0], "sorted", "sort", "rank: '"+o[1]+"'"))
		}
	}
	res := fedGet(t, "configmaps", "-n", "sorted", "-l", "test=sort", "--sort-by", ".metadata.name")
	tbl := parseTable(res.Stdout)
	if want := []string{"CLUSTER", "NAME", "DATA", "AGE"}; !reflect.DeepEqual(tbl.header, want) {
		t.Errorf("header %v, want the servers' columns %v", tbl.header, want)
	}
	var got []string
	for _, r := range tbl.rows {
		got = append(got, r[0]+"/"+r[1])
	}
	if want := []string{"usa/a", "eur/b", "jpn/b", "usa/c", "eur/d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("--sort-by .metadata.name: %v, want %v", got, want)
	}

	// A field outside metadata, whose values are numbers: the rows carry
	// whole objects.
	want := []string{"eur/d", "usa/c", "eur/b", "usa/a", "jpn/b"}
	res = fedGet(t, "configmaps", "-n", "sorted", "-l", "test=sort", "--sort-by", "{.data.rank}")
	got = nil
	for _, r := range parseTable(res.Stdout).rows {
		got = append(got, r[0]+"/"+r[1])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("--sort-by {.data.rank}: %v, want %v", got, want)
	}
	res = fedGet(t, "configmaps", "-n", "sorted", "-l", "test=sort", "--sort-by", "{.data.rank}", "-o", "name")
	if w := "eur/configmap/d\nusa/configmap/c\neur/configmap/b\nusa/configmap/a\njpn/configmap/b\n"; res.Stdout != w {
		t.Errorf("-o name --sort-by {.data.rank}: %q, want %q", res.Stdout, w)
	}

	res = fedGetFail(t, "configmaps", "-n", "sorted", "-l", "test=sort", "--sort-by", ".spec.nothing")
	if !strings.Contains(res.Stderr, "no object has the field {.spec.nothing}") {
		t.Errorf("stderr %q", res.Stderr)
	}
}
