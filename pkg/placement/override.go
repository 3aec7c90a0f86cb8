package placement

import (
	"encoding/json"
	"fmt"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// Override patches a federated object for some members. The annotation
// kfed.dev/overrides holds a list of them, in YAML or JSON:
//
//	kfed.dev/overrides: |
//	  - clusters: [jpn]
//	    jsonPatch:
//	    - {op: replace, path: /spec/template/spec/containers/0/image, value: "nginx:1.27-alpine"}
//	  - clusterSelector: topology.kubernetes.io/region=eu-west-1
//	    mergePatch: {metadata: {labels: {tier: eu}}}
//
// Overrides apply in order; each one that matches a member patches that
// member's copy. They may change the object's content, not what kfed knows
// it by: its kind, name and namespace, and kfed's own labels and
// annotations (see IsProtectedKey). ParseOverrides refuses patches that
// name those, and CheckRendered what a patch changes of them anyway.
type Override struct {
	// Clusters names the members the override is for.
	Clusters []string `json:"clusters,omitempty"`
	// ClusterSelector selects members as AnnotationClusterSelector does.
	ClusterSelector string `json:"clusterSelector,omitempty"`
	// MergePatch is a JSON merge patch (RFC 7386).
	MergePatch json.RawMessage `json:"mergePatch,omitempty"`
	// JSONPatch is a JSON patch (RFC 6902).
	JSONPatch json.RawMessage `json:"jsonPatch,omitempty"`

	selector labels.Selector
	patch    jsonpatch.Patch
}

// ParseOverrides reads the value of the kfed.dev/overrides annotation.
func ParseOverrides(v string) ([]Override, error) {
	var overrides []Override
	if err := yaml.UnmarshalStrict([]byte(v), &overrides); err != nil {
		return nil, fmt.Errorf("annotation %s: %v; write a list of {clusters or clusterSelector, mergePatch or jsonPatch}", AnnotationOverrides, err)
	}
	for i := range overrides {
		o := &overrides[i]
		where := fmt.Sprintf("annotation %s, override %d", AnnotationOverrides, i+1)
		if (len(o.Clusters) == 0) == (o.ClusterSelector == "") {
			return nil, fmt.Errorf("%s: give exactly one of clusters and clusterSelector", where)
		}
		if len(o.Clusters) > 0 {
			if _, err := parseNames(strings.Join(o.Clusters, ",")); err != nil {
				return nil, fmt.Errorf("%s: %v", where, err)
			}
		} else {
			sel, err := labels.Parse(o.ClusterSelector)
			if err != nil {
				return nil, fmt.Errorf("%s: clusterSelector: %v", where, err)
			}
			o.selector = sel
		}
		hasMerge, hasJSON := len(o.MergePatch) > 0 && string(o.MergePatch) != "null", len(o.JSONPatch) > 0 && string(o.JSONPatch) != "null"
		if hasMerge == hasJSON {
			return nil, fmt.Errorf("%s: give exactly one of mergePatch and jsonPatch", where)
		}
		if hasMerge {
			obj, err := mergePatchObject(o.MergePatch)
			if err != nil {
				return nil, fmt.Errorf("%s: mergePatch must be an object: %v", where, err)
			}
			if err := checkMergePatch(obj); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		} else {
			patch, err := jsonpatch.DecodePatch(o.JSONPatch)
			if err != nil {
				return nil, fmt.Errorf("%s: jsonPatch is not an RFC 6902 patch: %v", where, err)
			}
			for j, op := range patch {
				if _, err := op.Path(); err != nil || op.Kind() == "unknown" {
					return nil, fmt.Errorf("%s: jsonPatch operation %d needs an op and a path", where, j+1)
				}
			}
			if err := checkJSONPatch(patch); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			o.patch = patch
		}
	}
	return overrides, nil
}

// Matches reports whether the override is for member m.
func (o *Override) Matches(m Member) bool {
	if len(o.Clusters) > 0 {
		for _, c := range o.Clusters {
			if c == m.Name {
				return true
			}
		}
		return false
	}
	return o.selector != nil && o.selector.Matches(m.SelectableLabels())
}

// ApplyOverrides patches the JSON of an object with every override that
// matches m, in order.
func ApplyOverrides(doc []byte, overrides []Override, m Member) ([]byte, error) {
	for i := range overrides {
		o := &overrides[i]
		if !o.Matches(m) {
			continue
		}
		var err error
		if o.patch != nil {
			doc, err = o.patch.Apply(doc)
		} else {
			doc, err = jsonpatch.MergePatch(doc, o.MergePatch)
		}
		if err != nil {
			return nil, fmt.Errorf("override %d for cluster %s: %v", i+1, m.Name, err)
		}
	}
	return doc, nil
}
