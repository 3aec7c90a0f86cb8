package distribute

import (
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/placement"
)

// Plan is one federated object, ready to be written: which members get it,
// in which shape, with how many replicas.
type Plan struct {
	Key inventory.Key
	// Template is the object as the user wrote it.
	Template *unstructured.Unstructured
	Policy   *placement.Policy
	// Objects holds the object each Ready member gets, by member name.
	// Members whose objects cannot differ share one: treat them as
	// read-only.
	Objects map[string]*unstructured.Unstructured
	// Replicas holds each Ready member's share, for workloads.
	Replicas map[string]int32
	// NotReady lists the members the placement selects that are not Ready;
	// the object cannot reach them now, and their replicas went to the
	// others.
	NotReady []string
	// Unknown lists names in kfed.dev/clusters that are not members.
	Unknown []string
}

// Clusters returns the names of the members the plan writes to, sorted.
func (p *Plan) Clusters() []string {
	names := make([]string, 0, len(p.Objects))
	for n := range p.Objects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Selected returns every member the placement selects, Ready or not.
func (p *Plan) Selected() []string {
	out := append(p.Clusters(), p.NotReady...)
	sort.Strings(out)
	return out
}

// NewPlan plans tmpl over the federation's members. Every error is found
// here, before anything is written: a bad annotation, a patch that does not
// fit, replicas that cannot be split.
func NewPlan(federation string, tmpl *unstructured.Unstructured, targets []*Target) (*Plan, error) {
	key := inventory.KeyOf(tmpl)
	if key.Kind == "" || tmpl.GetAPIVersion() == "" {
		return nil, fmt.Errorf("object %q has no apiVersion or kind", tmpl.GetName())
	}
	if key.Name == "" {
		return nil, fmt.Errorf("%s: objects need a metadata.name; generateName cannot be federated, since every member would pick another name", key.Kind)
	}
	if key.Group == v1alpha1.GroupName {
		return nil, fmt.Errorf("%s: kfed.dev objects belong to the host; they are not distributed", key)
	}
	policy, err := placement.Parse(tmpl.GetAnnotations())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	selected, unknown := policy.Select(Members(targets))
	p := &Plan{
		Key: key, Template: tmpl, Policy: policy, Unknown: unknown,
		Objects: map[string]*unstructured.Unstructured{},
	}
	byName := map[string]*Target{}
	for _, t := range targets {
		byName[t.Name()] = t
	}
	var ready []string
	for _, name := range selected {
		if byName[name].Ready {
			ready = append(ready, name)
		} else {
			p.NotReady = append(p.NotReady, name)
		}
	}

	var total int32
	raw, hasReplicas, _ := unstructured.NestedFieldNoCopy(tmpl.Object, "spec", "replicas")
	if hasReplicas {
		if total, err = placement.Replicas(raw); err != nil {
			return nil, fmt.Errorf("%s: spec.replicas: %w", key, err)
		}
	}
	if hasReplicas && len(ready) > 0 {
		if p.Replicas, err = placement.Split(key.String(), total, policy.Shares(ready)); err != nil {
			return nil, fmt.Errorf("%s: splitting %d replicas over %v: %w", key, total, ready, err)
		}
	}
	// Without overrides or replicas to split, every member gets the same
	// object: one copy serves them all, which keeps the memory of a large
	// apply to many members near that of one.
	var shared *unstructured.Unstructured
	for _, name := range ready {
		if shared != nil {
			p.Objects[name] = shared
			continue
		}
		var replicas *int32
		if hasReplicas {
			n := p.Replicas[name]
			replicas = &n
		}
		obj, err := Render(federation, tmpl, policy, byName[name].Member, replicas)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		p.Objects[name] = obj
		if !hasReplicas && len(policy.Overrides) == 0 {
			shared = obj
		}
	}
	return p, nil
}

// Render returns the object member m gets: the template without kfed's
// placement annotations and server-set fields, labelled as kfed's, patched
// by the overrides that match m, with m's share of the replicas, and
// stamped with the digest of all that (see holdsAlready).
func Render(federation string, tmpl *unstructured.Unstructured, policy *placement.Policy, m placement.Member, replicas *int32) (*unstructured.Unstructured, error) {
	obj := tmpl.DeepCopy()
	for _, f := range [][]string{
		{"status"},
		{"metadata", "resourceVersion"}, {"metadata", "uid"}, {"metadata", "generation"},
		{"metadata", "creationTimestamp"}, {"metadata", "managedFields"}, {"metadata", "selfLink"},
		{"metadata", "deletionTimestamp"}, {"metadata", "deletionGracePeriodSeconds"},
	} {
		unstructured.RemoveNestedField(obj.Object, f...)
	}
	if ann := obj.GetAnnotations(); ann != nil {
		for _, k := range placement.Keys {
			delete(ann, k)
		}
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		delete(ann, v1alpha1.AnnotationAppliedDigest)
		if len(ann) == 0 {
			ann = nil
		}
		obj.SetAnnotations(ann)
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v1alpha1.LabelFederation] = federation
	labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedBy
	obj.SetLabels(labels)

	if len(policy.Overrides) > 0 {
		doc, err := json.Marshal(obj.Object)
		if err != nil {
			return nil, err
		}
		if doc, err = placement.ApplyOverrides(doc, policy.Overrides, m); err != nil {
			return nil, err
		}
		patched := &unstructured.Unstructured{}
		if err := json.Unmarshal(doc, &patched.Object); err != nil {
			return nil, err
		}
		if err := placement.CheckRendered(obj.Object, patched.Object, m); err != nil {
			return nil, err
		}
		obj = patched
	}
	if replicas != nil {
		if err := unstructured.SetNestedField(obj.Object, int64(*replicas), "spec", "replicas"); err != nil {
			return nil, err
		}
	}
	if err := stampDigest(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// Rank orders kinds for writing: what others depend on goes first. Deletes
// go the other way round.
func Rank(kind, group string) int {
	switch {
	case kind == "CustomResourceDefinition" && group == "apiextensions.k8s.io":
		return 0
	case kind == "Namespace" && group == "":
		return 1
	case group == "" && (kind == "ServiceAccount" || kind == "Secret" || kind == "ConfigMap" ||
		kind == "LimitRange" || kind == "ResourceQuota" || kind == "PersistentVolumeClaim"):
		return 3
	case group == "rbac.authorization.k8s.io" || group == "scheduling.k8s.io" || group == "storage.k8s.io":
		return 2
	case group == "" && kind == "Service":
		return 4
	}
	return 5
}

// SortPlans orders plans for writing, keeping the input order among equals.
func SortPlans(plans []*Plan) {
	sort.SliceStable(plans, func(i, j int) bool {
		return Rank(plans[i].Key.Kind, plans[i].Key.Group) < Rank(plans[j].Key.Kind, plans[j].Key.Group)
	})
}
