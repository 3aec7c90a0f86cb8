//go:build e2e

package get

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestGetCustomColumns prints kubectl's custom columns for the objects of
// every member, CLUSTER first: the rows are those kubectl get prints in
// each member, from a spec or a file, and a bad spec or file fails with
// kubectl's own error.
func TestGetCustomColumns(t *testing.T) {
	namespace(t, "columns")
	for _, c := range members {
		create(t, c, configMap("colour", "columns", "columns", "a: '"+c+"'"))
	}
	create(t, "eur", configMap("extra", "columns", "columns", "b: 'y'"))
	spec := "custom-columns=NAME:.metadata.name,A:.data.a"
	args := []string{"configmaps", "-n", "columns", "-l", "test=columns"}

	// What kubectl get prints in each member, after its name.
	var want [][]string
	for _, c := range members {
		res := kubectl.Succeed(t, append(append([]string{"get"}, args...), "-o", spec, "--no-headers", "--context", c)...)
		for _, line := range strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n") {
			want = append(want, append([]string{c}, strings.Fields(line)...))
		}
	}
	if len(want) != 4 {
		t.Fatalf("kubectl get printed %v in the members, want 4 rows", want)
	}

	res := fedGet(t, append(args, "-o", spec)...)
	tbl := parseTable(res.Stdout)
	if w := []string{"CLUSTER", "NAME", "A"}; !reflect.DeepEqual(tbl.header, w) {
		t.Errorf("header %v, want %v", tbl.header, w)
	}
	if !reflect.DeepEqual(tbl.rows, want) {
		t.Errorf("rows %v, want kubectl get's in each member %v", tbl.rows, want)
	}

	noHeaders := fedGet(t, append(args, "-o", spec, "--no-headers")...)
	if got := parseTable("\n" + noHeaders.Stdout).rows; !reflect.DeepEqual(got, want) {
		t.Errorf("--no-headers:\n%s\nwant the rows %v only", noHeaders.Stdout, want)
	}

	file := filepath.Join(t.TempDir(), "columns.txt")
	if err := os.WriteFile(file, []byte("NAME   A\n.metadata.name   {.data.a}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile := fedGet(t, append(args, "-o", "custom-columns-file="+file)...)
	if fromFile.Stdout != res.Stdout {
		t.Errorf("-o custom-columns-file:\n%s\nwant what the spec prints:\n%s", fromFile.Stdout, res.Stdout)
	}

	for _, bad := range []string{
		"custom-columns=NAME",
		"custom-columns=",
		"custom-columns=NAME:{.metadata.name",
		"custom-columns=NAME:.metadata.name[",
		"custom-columns-file=" + filepath.Join(t.TempDir(), "missing.txt"),
	} {
		fed := fedGetFail(t, append(args, "-o", bad)...)
		direct := kubectl.Fail(t, append(append([]string{"get"}, args...), "-o", bad, "--context", "eur")...)
		if fed.Stderr != direct.Stderr || fed.ExitCode != direct.ExitCode {
			t.Errorf("-o %s: exit %d, stderr %q; kubectl get: exit %d, stderr %q", bad, fed.ExitCode, fed.Stderr, direct.ExitCode, direct.Stderr)
		}
	}
}
