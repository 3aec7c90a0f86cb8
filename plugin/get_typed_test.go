package plugin

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// typedTables turns the answers' tables into the form aggregate hands
// over when it reads a list's tables itself: a *metav1.Table whose rows
// carry a PartialObjectMetadata.
func typedTables(t *testing.T, answers []*aggregate.Answer) []*aggregate.Answer {
	t.Helper()
	for _, a := range answers {
		for _, info := range a.Infos {
			tbl, ok, err := aggregate.TableOf(info.Object)
			if err != nil || !ok {
				t.Fatalf("not a table: %v", err)
			}
			for i := range tbl.Rows {
				u, ok := tbl.Rows[i].Object.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				m := &metav1.PartialObjectMetadata{}
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, m); err != nil {
					t.Fatal(err)
				}
				tbl.Rows[i].Object.Object = m
			}
			info.Object = tbl
		}
	}
	return answers
}

// Typed tables print as those resource.Builder decodes.
func TestGetTypedTables(t *testing.T) {
	for _, c := range []struct {
		golden string
		flags  []string
	}{
		{"pods-all-namespaces.txt", []string{"-A"}},
		{"pods-show-labels.txt", []string{"--show-labels", "--no-headers"}},
	} {
		o, out, _ := newTestGetOptions(t, []string{"pods"}, c.flags...)
		if err := o.print(typedTables(t, podAnswers(t)), nil, nil); err != nil {
			t.Fatal(err)
		}
		golden(t, "get/"+c.golden, out.Bytes())
	}
}
