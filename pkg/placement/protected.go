package placement

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

// kfed finds, owns and deletes what it distributed by its labels and
// annotations, and identifies an object by its kind, name and namespace.
// An override that changed any of them for one member would make kfed lose
// track of that member's copy: the next apply would refuse it as not kfed's,
// and a delete would leave it behind. So overrides may not touch them.

// managedByKey is the standard label kfed sets to kubectl-fed. It is kept
// here rather than imported, since placement depends on no API package.
const managedByKey = "app.kubernetes.io/managed-by"

// kfedPrefix starts every label and annotation key of kfed's own.
const kfedPrefix = "kfed.dev/"

// IsProtectedKey reports whether a label or annotation key is kfed's own:
// one under kfed.dev/, or app.kubernetes.io/managed-by.
func IsProtectedKey(key string) bool {
	return strings.HasPrefix(key, kfedPrefix) || key == managedByKey
}

// protectedHint ends every refusal: what may not change, and why.
const protectedHint = "overrides may not change the object's kind, name or namespace, nor kfed's own labels and annotations " +
	"(kfed.dev/*, " + managedByKey + "), which kfed finds and deletes its objects by"

// checkJSONPatch refuses operations that write to a protected path, or that
// replace or remove a whole map holding one (the document, metadata, its
// labels). A "test" reads only, and "copy" only reads its from.
func checkJSONPatch(patch jsonpatch.Patch) error {
	for i, op := range patch {
		kind := op.Kind()
		if kind == "test" {
			continue
		}
		path, _ := op.Path()
		paths := []string{path}
		if kind == "move" {
			from, err := op.From()
			if err != nil {
				return fmt.Errorf("jsonPatch operation %d (move) needs a from", i+1)
			}
			paths = append(paths, from)
		}
		for _, p := range paths {
			if what := protectedPointer(p); what != "" {
				return fmt.Errorf("jsonPatch operation %d (%s %s) %s; %s", i+1, kind, p, what, protectedHint)
			}
		}
	}
	return nil
}

// protectedPointer says what a write at the JSON pointer p would change of
// kfed's, or "" when nothing.
func protectedPointer(p string) string {
	if p == "" || p == "/" {
		return "replaces the whole object"
	}
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	for i := range seg {
		seg[i] = strings.ReplaceAll(strings.ReplaceAll(seg[i], "~1", "/"), "~0", "~")
	}
	switch {
	case len(seg) == 1 && (seg[0] == "kind" || seg[0] == "apiVersion"):
		return "changes the object's " + seg[0]
	case seg[0] != "metadata":
		return ""
	case len(seg) == 1:
		return "replaces all of metadata, kfed's labels with it"
	case len(seg) == 2 && (seg[1] == "name" || seg[1] == "namespace"):
		return "changes the object's " + seg[1]
	case seg[1] != "labels" && seg[1] != "annotations":
		return ""
	case len(seg) == 2 && seg[1] == "labels":
		return "replaces all of metadata.labels, kfed's with them; patch single labels instead, e.g. /metadata/labels/tier"
	case len(seg) >= 3 && IsProtectedKey(seg[2]):
		return fmt.Sprintf("changes %s %s, which is kfed's own", strings.TrimSuffix(seg[1], "s"), seg[2])
	}
	return ""
}

// checkMergePatch refuses a merge patch that sets or removes what
// protectedPointer protects. Whole-map replacement of annotations is left
// to the check after rendering, which knows the object's annotations.
func checkMergePatch(patch map[string]any) error {
	fail := func(path, what string) error {
		return fmt.Errorf("mergePatch at %s %s; %s", path, what, protectedHint)
	}
	for _, k := range []string{"kind", "apiVersion"} {
		if _, ok := patch[k]; ok {
			return fail(k, "changes the object's "+k)
		}
	}
	raw, ok := patch["metadata"]
	if !ok {
		return nil
	}
	meta, isMap := raw.(map[string]any)
	if !isMap {
		return fail("metadata", "replaces all of metadata, kfed's labels with it")
	}
	for _, k := range []string{"name", "namespace"} {
		if _, ok := meta[k]; ok {
			return fail("metadata."+k, "changes the object's "+k)
		}
	}
	for _, field := range []string{"labels", "annotations"} {
		raw, ok := meta[field]
		if !ok {
			continue
		}
		m, isMap := raw.(map[string]any)
		if !isMap {
			if field == "labels" {
				return fail("metadata.labels", "removes all labels, kfed's with them; remove single labels instead, e.g. {tier: null}")
			}
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if IsProtectedKey(k) {
				return fail(fmt.Sprintf("metadata.%s[%q]", field, k), fmt.Sprintf("changes %s %s, which is kfed's own", strings.TrimSuffix(field, "s"), k))
			}
		}
	}
	return nil
}

// CheckRendered compares an object before and after the overrides for
// member m were applied, and refuses any change to what overrides may not
// touch. It catches what the checks at parse time cannot see, such as an
// override that removes all annotations, kfed's among them.
func CheckRendered(before, after map[string]any, m Member) error {
	fail := func(what string) error {
		return fmt.Errorf("an override for cluster %s %s; %s", m.Name, what, protectedHint)
	}
	for _, k := range []string{"kind", "apiVersion"} {
		if !reflect.DeepEqual(before[k], after[k]) {
			return fail("changes the object's " + k)
		}
	}
	bm, _ := before["metadata"].(map[string]any)
	am, _ := after["metadata"].(map[string]any)
	for _, k := range []string{"name", "namespace"} {
		if !reflect.DeepEqual(bm[k], am[k]) {
			return fail("changes the object's " + k)
		}
	}
	for _, field := range []string{"labels", "annotations"} {
		b, _ := bm[field].(map[string]any)
		a, _ := am[field].(map[string]any)
		for _, k := range protectedKeys(b, a) {
			bv, bok := b[k]
			av, aok := a[k]
			if bok != aok || !reflect.DeepEqual(bv, av) {
				return fail(fmt.Sprintf("changes %s %s, which is kfed's own", strings.TrimSuffix(field, "s"), k))
			}
		}
	}
	return nil
}

// protectedKeys returns, sorted, the protected keys of either map.
func protectedKeys(maps ...map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range maps {
		for k := range m {
			if IsProtectedKey(k) && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// mergePatchObject decodes a merge patch that must be a JSON object.
func mergePatchObject(raw json.RawMessage) (map[string]any, error) {
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}
