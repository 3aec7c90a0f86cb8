package distribute

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Difference is how one object in one member differs from what the
// federation would write there.
type Difference struct {
	Cluster string
	// Object names the object, as inventory keys read.
	Object string
	// State is one of: "changed", "missing" (kfed would create it),
	// "extra" (kfed would delete it), "unmanaged" (it exists but is not
	// kfed's), or "error".
	State string
	// Diff is a unified diff from the live object to the one kfed would
	// write, for "changed".
	Diff string
	// Message explains "error" and "missing".
	Message string
}

// Diff compares each plan with the live objects of the Ready members it
// selects. The would-be object comes from a server-side dry run of the same
// apply sync makes, so defaults and admission are accounted for and only
// real changes show.
func Diff(ctx context.Context, targets []*Target, plans []*Plan, federation string, recorded map[string]map[string]bool) []Difference {
	var out []Difference
	for _, t := range targets {
		if !t.Ready {
			continue
		}
		w := newWriter(t, Options{Federation: federation, ForceConflicts: true, DryRun: DryRunServer})
		for _, p := range plans {
			obj, ok := p.Objects[t.Name()]
			if !ok {
				continue
			}
			d := Difference{Cluster: t.Name(), Object: p.Key.String()}
			live, want, err := w.compare(ctx, obj)
			switch {
			case errors.Is(err, errNotOurs):
				d.State, d.Message = "unmanaged", "exists in the cluster and is not this federation's; apply --adopt takes it over"
			case err != nil:
				d.State, d.Message = "error", err.Error()
			case live == nil:
				d.State = "missing"
				if recorded[p.Key.String()][t.Name()] {
					d.Message = "deleted directly in the cluster; sync creates it again"
				} else {
					d.Message = "not in the cluster yet; apply or sync creates it"
				}
			default:
				text, err := unifiedDiff(live, want, t.Name()+"/"+p.Key.String())
				if err != nil {
					d.State, d.Message = "error", err.Error()
				} else if text == "" {
					continue
				} else {
					d.State, d.Diff = "changed", text
				}
			}
			out = append(out, d)
		}
	}
	return out
}

var errNotOurs = errors.New("not this federation's")

// compare returns the live object and what a forced apply would make of it.
func (w *writer) compare(ctx context.Context, obj *unstructured.Unstructured) (live, want *unstructured.Unstructured, err error) {
	ri, _, err := w.client(ctx, obj.GroupVersionKind(), obj.GetNamespace())
	if err != nil {
		return nil, nil, err
	}
	live, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if owner := live.GetLabels()[v1alpha1.LabelFederation]; owner != w.opts.Federation {
		return live, nil, errNotOurs
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, nil, err
	}
	force := true
	want, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: v1alpha1.FieldManager, Force: &force, DryRun: []string{metav1.DryRunAll},
	})
	return live, want, err
}

func unifiedDiff(live, want *unstructured.Unstructured, name string) (string, error) {
	a, err := diffYAML(live)
	if err != nil {
		return "", err
	}
	b, err := diffYAML(want)
	if err != nil {
		return "", err
	}
	if a == b {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: name + " (live)", ToFile: name + " (federation)",
		Context: 3,
	})
}

// diffYAML renders an object without the fields the server changes on every
// write, which would only be noise.
func diffYAML(u *unstructured.Unstructured) (string, error) {
	c := u.DeepCopy()
	for _, f := range [][]string{
		{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
	} {
		unstructured.RemoveNestedField(c.Object, f...)
	}
	b, err := yaml.Marshal(c.Object)
	return strings.TrimRight(string(b), "\n") + "\n", err
}
