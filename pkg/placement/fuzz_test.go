package placement

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// fuzzMembers are the members every fuzz target places over.
var fuzzMembers = []Member{
	{Name: "eur", Region: "eu-west-1", Zone: "eu-west-1a", Labels: map[string]string{"env": "prod"}},
	{Name: "jpn", Region: "ap-northeast-1", Zone: "ap-northeast-1a"},
	{Name: "usa", Region: "us-east-1", Zone: "us-east-1a", Labels: map[string]string{"env": "dev"}},
}

// fuzzDoc is the object overrides are fuzzed against: kfed's own labels
// and annotations in place, as Render leaves them before overrides.
const fuzzDoc = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop",` +
	`"labels":{"app":"web","kfed.dev/federation":"magicring","app.kubernetes.io/managed-by":"kubectl-fed"},` +
	`"annotations":{"note":"x","kfed.dev/keep":"y"}},` +
	`"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}`

// FuzzParse feeds any value of each placement and split annotation to
// Parse, then places and splits over three members. A refusal names its
// annotation; what Parse accepts never makes Select, Shares or Split
// panic, and a split that succeeds places exactly the replicas asked for
// within every member's bounds.
func FuzzParse(f *testing.F) {
	f.Add("usa,eur", "env=prod", "usa=2,eur=1", "usa=1", "jpn=3", int32(7))
	f.Add(" , ", "env in prod", "usa=2,eur", "usa=-1", "jpn=1.5", int32(0))
	f.Add("USA", "topology.kubernetes.io/region in (us-east-1,eu-west-1)", "usa=3000000000", "usa=1,usa=2", "jpn=99999999999999999999999", int32(-3))
	f.Add("mars", "!env", "eur=0,jpn=0,usa=0", "usa=3", "usa=2", int32(2147483647))
	f.Add("", "", "", "", "", int32(1))
	f.Fuzz(func(t *testing.T, clusters, selector, weights, minimum, maximum string, total int32) {
		annotations := map[string]string{}
		for k, v := range map[string]string{
			AnnotationClusters: clusters, AnnotationClusterSelector: selector,
			AnnotationReplicaWeights: weights, AnnotationReplicaMin: minimum, AnnotationReplicaMax: maximum,
		} {
			if v != "" {
				annotations[k] = v
			}
		}
		p, err := Parse(annotations)
		if err != nil {
			if !strings.Contains(err.Error(), "kfed.dev/") {
				t.Fatalf("Parse(%q) = %v: the error names no annotation", annotations, err)
			}
			return
		}
		selected, _ := p.Select(fuzzMembers)
		if len(selected) == 0 {
			if p.NoMember(fuzzMembers) == nil {
				t.Fatalf("Parse(%q) selects no member, and NoMember says nothing", annotations)
			}
			return
		}
		shares := p.Shares(selected)
		split, err := Split("shop/deployment.apps/web", total, shares)
		if err != nil {
			return
		}
		checkSplit(t, total, shares, split)
	})
}

// FuzzSplit splits any count over three members with any weights and
// bounds: a split either fails or places exactly total, within bounds,
// nothing to a member of weight 0 beyond its minimum.
func FuzzSplit(f *testing.F) {
	f.Add(int32(8), int32(2), int32(1), int32(1), int32(0), int32(1), int32(0), int32(-1), int32(3), int32(-1))
	f.Add(int32(2147483647), int32(2147483647), int32(1), int32(0), int32(0), int32(0), int32(7), int32(-1), int32(-1), int32(7))
	f.Add(int32(5), int32(0), int32(0), int32(0), int32(1), int32(1), int32(1), int32(1), int32(1), int32(1))
	f.Fuzz(func(t *testing.T, total, w1, w2, w3, min1, min2, min3, max1, max2, max3 int32) {
		shares := []Share{
			{Cluster: "eur", Weight: w1, Min: min1, Max: max1},
			{Cluster: "jpn", Weight: w2, Min: min2, Max: max2},
			{Cluster: "usa", Weight: w3, Min: min3, Max: max3},
		}
		split, err := Split("shop/deployment.apps/web", total, shares)
		if err != nil {
			return
		}
		checkSplit(t, total, shares, split)
	})
}

func checkSplit(t *testing.T, total int32, shares []Share, split map[string]int32) {
	t.Helper()
	var sum int64
	for _, s := range shares {
		got, ok := split[s.Cluster]
		if !ok {
			t.Fatalf("Split(%d, %+v) = %v: %s has no share", total, shares, split, s.Cluster)
		}
		if got < s.Min || (s.Max >= 0 && got > s.Max) || (s.Weight == 0 && got > s.Min) {
			t.Fatalf("Split(%d, %+v) = %v: %s gets %d, outside its bounds", total, shares, split, s.Cluster, got)
		}
		sum += int64(got)
	}
	if sum != int64(total) || len(split) != len(shares) {
		t.Fatalf("Split(%d, %+v) = %v: places %d replicas", total, shares, split, sum)
	}
}

// FuzzOverrides feeds any kfed.dev/overrides value to ParseOverrides, and
// applies what it accepts to a Deployment for each member. Nothing may
// panic, a refusal names the annotation, and a patched object that
// CheckRendered lets through still has its kind, name, namespace and
// kfed's own labels and annotations as they were.
func FuzzOverrides(f *testing.F) {
	for _, seed := range []string{
		"[{clusters: [jpn], jsonPatch: [{op: replace, path: /spec/template/spec/containers/0/image, value: web:jp}]}]",
		"- clusterSelector: topology.kubernetes.io/region=eu-west-1\n  mergePatch: {metadata: {labels: {tier: eu}}}",
		"[{clusters: [jpn], jsonPatch: [{op: remove, path: /metadata/labels/kfed.dev~1federation}]}]",
		"[{clusters: [usa], jsonPatch: [{op: replace, path: /metadata/labels, value: {tier: jp}}]}]",
		"[{clusterSelector: env=prod, mergePatch: {metadata: {annotations: null}}}]",
		"[{clusters: [eur], jsonPatch: [{op: move, from: /metadata/name, path: /spec/x}]}]",
		"[{clusters: [eur], jsonPatch: [{op: copy, from: /metadata, path: /spec/m}]}]",
		"[{clusters: [eur], mergePatch: {kind: Pod}}]",
		"- clusters: [jpn]\n  jsonPatch: [{op: add, path: /a}]\n  extra: 1",
		"not: a list",
		"[{clusters: [jpn], mergePatch: [1]}]",
		"{{{{",
		"- \t",
	} {
		f.Add(seed)
	}
	var original map[string]any
	if err := json.Unmarshal([]byte(fuzzDoc), &original); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value string) {
		overrides, err := ParseOverrides(value)
		if err != nil {
			if !strings.Contains(err.Error(), AnnotationOverrides) {
				t.Fatalf("ParseOverrides(%q) = %v: the error names no annotation", value, err)
			}
			return
		}
		for _, m := range fuzzMembers {
			doc, err := ApplyOverrides([]byte(fuzzDoc), overrides, m)
			if err != nil {
				continue
			}
			var after map[string]any
			if err := json.Unmarshal(doc, &after); err != nil {
				// A patch may leave something other than an object;
				// Render refuses it when it decodes the result.
				continue
			}
			if CheckRendered(original, after, m) != nil {
				continue
			}
			checkProtected(t, value, m, original, after)
		}
	})
}

// checkProtected fails when after differs from before in what overrides
// may not change, seen without CheckRendered's own code.
func checkProtected(t *testing.T, value string, m Member, before, after map[string]any) {
	t.Helper()
	for _, path := range [][]string{
		{"kind"}, {"apiVersion"}, {"metadata", "name"}, {"metadata", "namespace"},
		{"metadata", "labels", "kfed.dev/federation"}, {"metadata", "labels", "app.kubernetes.io/managed-by"},
		{"metadata", "annotations", "kfed.dev/keep"},
	} {
		if b, a := lookup(before, path), lookup(after, path); !reflect.DeepEqual(b, a) {
			t.Fatalf("overrides %q for %s changed %s from %v to %v, and CheckRendered let it through", value, m.Name, strings.Join(path, "."), b, a)
		}
	}
}

func lookup(obj map[string]any, path []string) any {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}
