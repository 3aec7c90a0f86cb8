package placement

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var lab = []Member{
	{Name: "usa", Region: "us-east-1", Zone: "us-east-1a", Labels: map[string]string{"env": "prod"}},
	{Name: "eur", Region: "eu-west-1", Zone: "eu-west-1a", Labels: map[string]string{"env": "prod", "gdpr": "true"}},
	{Name: "jpn", Region: "ap-northeast-1", Zone: "ap-northeast-1a", Labels: map[string]string{"env": "staging"}},
}

func TestSelect(t *testing.T) {
	for _, tc := range []struct {
		name         string
		annotations  map[string]string
		want, unknwn []string
	}{
		{"everywhere by default", nil, []string{"eur", "jpn", "usa"}, nil},
		{"cluster list", map[string]string{AnnotationClusters: "usa, eur"}, []string{"eur", "usa"}, nil},
		{"unknown cluster reported", map[string]string{AnnotationClusters: "usa,mars"}, []string{"usa"}, []string{"mars"}},
		{"selector on labels", map[string]string{AnnotationClusterSelector: "env=prod"}, []string{"eur", "usa"}, nil},
		{"selector on region", map[string]string{AnnotationClusterSelector: "topology.kubernetes.io/region in (ap-northeast-1,eu-west-1)"}, []string{"eur", "jpn"}, nil},
		{"selector on zone", map[string]string{AnnotationClusterSelector: "topology.kubernetes.io/zone=us-east-1a"}, []string{"usa"}, nil},
		{"selector on name", map[string]string{AnnotationClusterSelector: "kfed.dev/cluster!=usa"}, []string{"eur", "jpn"}, nil},
		{"list and selector together", map[string]string{AnnotationClusters: "usa,jpn", AnnotationClusterSelector: "env=prod"}, []string{"usa"}, nil},
		{"selector matching nothing", map[string]string{AnnotationClusterSelector: "env=dev"}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.annotations)
			if err != nil {
				t.Fatal(err)
			}
			got, unknown := p.Select(lab)
			if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(unknown, tc.unknwn) {
				t.Errorf("got %v (unknown %v), want %v (unknown %v)", got, unknown, tc.want, tc.unknwn)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		annotations map[string]string
		want        string
	}{
		{map[string]string{AnnotationClusters: " , "}, "kfed.dev/clusters: no cluster named"},
		{map[string]string{AnnotationClusters: "USA"}, `"USA" is not a cluster name`},
		{map[string]string{AnnotationClusterSelector: "env in prod"}, "kfed.dev/cluster-selector"},
		{map[string]string{AnnotationReplicaWeights: "usa=2,eur"}, `kfed.dev/replica-weights: "eur" is not CLUSTER=COUNT`},
		{map[string]string{AnnotationReplicaWeights: "usa=-1"}, `kfed.dev/replica-weights: "usa=-1": the count -1 is negative; a count goes from 0 to 2147483647`},
		{map[string]string{AnnotationReplicaWeights: "usa=3000000000"}, `"usa=3000000000": the count 3000000000 is out of range; a count goes from 0 to 2147483647`},
		{map[string]string{AnnotationReplicaMin: "usa=2147483648"}, `kfed.dev/replica-min: "usa=2147483648": the count 2147483648 is out of range`},
		{map[string]string{AnnotationReplicaMax: "jpn=99999999999999999999999"}, `kfed.dev/replica-max: "jpn=99999999999999999999999": the count 99999999999999999999999 is out of range`},
		{map[string]string{AnnotationReplicaMax: "jpn=1.5"}, `"jpn=1.5" is not CLUSTER=COUNT`},
		{map[string]string{AnnotationReplicaMin: "usa=1,usa=2"}, "usa is given twice"},
		{map[string]string{AnnotationReplicaMin: "usa=3", AnnotationReplicaMax: "usa=2"}, "usa has maximum 2 below its minimum 3"},
		{map[string]string{AnnotationOverrides: "not: a list"}, "kfed.dev/overrides"},
		{map[string]string{AnnotationOverrides: "- mergePatch: {a: 1}"}, "exactly one of clusters and clusterSelector"},
		{map[string]string{AnnotationOverrides: "- clusters: [jpn]"}, "exactly one of mergePatch and jsonPatch"},
		{map[string]string{AnnotationOverrides: "- clusters: [jpn]\n  mergePatch: [1]"}, "mergePatch must be an object"},
		{map[string]string{AnnotationOverrides: "- clusters: [jpn]\n  jsonPatch: [{path: /a}]"}, "needs an op and a path"},
		{map[string]string{AnnotationOverrides: "- clusters: [jpn]\n  jsonPatch: [{op: add, path: /a}]\n  extra: 1"}, "unknown field"},
	} {
		_, err := Parse(tc.annotations)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%v): got %v, want an error containing %q", tc.annotations, err, tc.want)
		}
	}
}

func TestShares(t *testing.T) {
	p, err := Parse(map[string]string{
		AnnotationReplicaWeights: "usa=2",
		AnnotationReplicaMin:     "eur=1",
		AnnotationReplicaMax:     "jpn=3",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := p.Shares([]string{"eur", "jpn", "usa"})
	want := []Share{{"eur", 1, 1, -1}, {"jpn", 1, 0, 3}, {"usa", 2, 0, -1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestApplyOverrides(t *testing.T) {
	overrides, err := ParseOverrides(`
- clusters: [jpn]
  jsonPatch:
  - {op: replace, path: /spec/template/spec/containers/0/image, value: "web:jp"}
- clusterSelector: gdpr=true
  mergePatch: {metadata: {labels: {tier: eu}}}
- clusterSelector: env=prod
  mergePatch: {spec: {paused: true}}
`)
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"web:1"}]}}}}`
	for _, tc := range []struct {
		member Member
		want   string
	}{
		{lab[2], `{"metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"image":"web:jp","name":"web"}]}}}}`},
		{lab[1], `{"metadata":{"labels":{"tier":"eu"},"name":"web"},"spec":{"paused":true,"template":{"spec":{"containers":[{"image":"web:1","name":"web"}]}}}}`},
		{lab[0], `{"metadata":{"name":"web"},"spec":{"paused":true,"template":{"spec":{"containers":[{"image":"web:1","name":"web"}]}}}}`},
	} {
		got, err := ApplyOverrides([]byte(doc), overrides, tc.member)
		if err != nil {
			t.Fatalf("%s: %v", tc.member.Name, err)
		}
		if normalize(t, got) != normalize(t, []byte(tc.want)) {
			t.Errorf("%s: got %s\nwant %s", tc.member.Name, got, tc.want)
		}
	}
	// A patch that does not fit the object is an error naming the cluster.
	bad, _ := ParseOverrides(`[{clusters: [jpn], jsonPatch: [{op: replace, path: /spec/nothing/here, value: 1}]}]`)
	if _, err := ApplyOverrides([]byte(doc), bad, lab[2]); err == nil || !strings.Contains(err.Error(), "cluster jpn") {
		t.Errorf("bad patch: got %v", err)
	}
}

func normalize(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestNoMember(t *testing.T) {
	for _, tc := range []struct {
		annotations map[string]string
		want        string
	}{
		{map[string]string{AnnotationClusters: "mars,venus"},
			"kfed.dev/clusters names mars, venus, and none of them is a member; the members are eur, jpn, usa"},
		{map[string]string{AnnotationClusterSelector: "env=dev"},
			`kfed.dev/cluster-selector "env=dev" matches no member; the members are eur (env=prod), jpn (env=staging), usa (env=prod)`},
		{map[string]string{AnnotationClusterSelector: "gdpr=true,topology.kubernetes.io/region=us-east-1"},
			`the members are eur (gdpr=true, topology.kubernetes.io/region=eu-west-1), jpn (no gdpr, topology.kubernetes.io/region=ap-northeast-1), usa (no gdpr, topology.kubernetes.io/region=us-east-1)`},
		{map[string]string{AnnotationClusters: "jpn", AnnotationClusterSelector: "env=prod"},
			`kfed.dev/clusters jpn and kfed.dev/cluster-selector "env=prod" together select no member; the members are eur (env=prod), jpn (env=staging), usa (env=prod)`},
	} {
		p, err := Parse(tc.annotations)
		if err != nil {
			t.Fatal(err)
		}
		if sel, _ := p.Select(lab); len(sel) != 0 {
			t.Fatalf("%v selects %v", tc.annotations, sel)
		}
		if err := p.NoMember(lab); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v,\nwant an error containing %q", tc.annotations, err, tc.want)
		}
	}
}
