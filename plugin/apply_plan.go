package plugin

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// explainRead says what kubectl's decoder leaves unsaid when a document
// of the input is YAML but not a mapping (a list, a string): it reports
// only that it cannot fill a Go type of its own.
func explainRead(err error) error {
	if strings.Contains(err.Error(), "unstructured.detector") {
		return fmt.Errorf("%w: each document of the input must be a Kubernetes object, a mapping with apiVersion, kind and metadata; nothing was applied", err)
	}
	return err
}

// planAll plans every object; any error stops the run before a write.
func planAll(fs *fedSession, objs []*unstructured.Unstructured, namespace string, explicit bool) ([]*distribute.Plan, error) {
	if err := defaultNamespaces(objs, fs.targets, namespace, explicit); err != nil {
		return nil, err
	}
	var plans []*distribute.Plan
	var errs []error
	seen := map[inventory.Key]bool{}
	for _, obj := range objs {
		p, err := distribute.NewPlan(fs.federation.Name, obj, fs.targets)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[p.Key] {
			errs = append(errs, fmt.Errorf("%s is given twice in the input", p.Key))
			continue
		}
		seen[p.Key] = true
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing was applied:\n%w", errors.Join(errs...))
	}
	distribute.SortPlans(plans)
	return plans, nil
}

// refuseInvalidNames refuses the input when any object has a name or
// namespace that no member accepts. Only apply checks: diff and sync still
// show and report, with the members' own errors, such objects that an
// older kfed recorded.
func refuseInvalidNames(plans []*distribute.Plan) error {
	var errs []error
	for _, p := range plans {
		if err := distribute.CheckName(p.Key); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("nothing was applied:\n%w", errors.Join(errs...))
	}
	return nil
}

func warnPlans(o *ApplyOptions, plans []*distribute.Plan) {
	for _, p := range plans {
		if len(p.Unknown) > 0 {
			fmt.Fprintf(o.ErrOut, "Warning: %s: %s names clusters that are not members: %v\n", p.Key, "kfed.dev/clusters", p.Unknown)
		}
		if len(p.Selected()) == 0 {
			fmt.Fprintf(o.ErrOut, "Warning: %s: its placement selects no member\n", p.Key)
		}
		if len(p.NotReady) > 0 && p.Replicas != nil {
			fmt.Fprintf(o.ErrOut, "Warning: %s: the replicas of %v went to %v\n", p.Key, p.NotReady, p.Clusters())
		}
	}
}
