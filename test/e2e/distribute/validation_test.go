//go:build e2e

package distribute

import (
	"strings"
	"testing"
)

// TestValidation applies, through the real kubectl, objects that kfed must
// refuse before it writes anything: overrides of kfed's own labels and
// annotations, placements that select no member, and numbers beyond what
// a member takes. Each error names the problem as the user wrote it.
func TestValidation(t *testing.T) {
	configMap := func(name, annotations string) string {
		return `
apiVersion: v1
kind: ConfigMap
metadata:
  name: ` + name + `
  namespace: validation
  annotations: {` + annotations + `}
data: {color: blue}
`
	}
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"override removing kfed's federation label",
			configMap("unlabel", `kfed.dev/overrides: "[{clusters: [jpn], jsonPatch: [{op: remove, path: /metadata/labels/kfed.dev~1federation}]}]"`),
			[]string{"validation/configmap/unlabel: annotation kfed.dev/overrides, override 1: jsonPatch operation 1 (remove /metadata/labels/kfed.dev~1federation) changes label kfed.dev/federation, which is kfed's own"}},
		{"override of managed-by",
			configMap("managed", `kfed.dev/overrides: "[{clusters: [eur], mergePatch: {data: {a: b}}}, {clusterSelector: kfed.dev/cluster=usa, mergePatch: {metadata: {labels: {app.kubernetes.io/managed-by: helm}}}}]"`),
			[]string{`override 2: mergePatch at metadata.labels["app.kubernetes.io/managed-by"] changes label app.kubernetes.io/managed-by, which is kfed's own`}},
		{"override replacing every label",
			configMap("relabel", `kfed.dev/overrides: "[{clusters: [jpn], jsonPatch: [{op: replace, path: /metadata/labels, value: {tier: jp}}]}]"`),
			[]string{"jsonPatch operation 1 (replace /metadata/labels) replaces all of metadata.labels"}},
		{"clusters that are not members",
			configMap("planets", `kfed.dev/clusters: "mars,venus"`),
			[]string{"validation/configmap/planets: kfed.dev/clusters names mars, venus, and none of them is a member; the members are eur, jpn, usa", "--allow-empty"}},
		{"a selector matching no member",
			configMap("nowhere", `kfed.dev/cluster-selector: "topology.kubernetes.io/region=mars-north-1"`),
			[]string{`validation/configmap/nowhere: kfed.dev/cluster-selector "topology.kubernetes.io/region=mars-north-1" matches no member; the members are eur (topology.kubernetes.io/region=`, "--allow-empty"}},
		{"replicas beyond int32",
			paused("validation", "huge", 3000000000, ""),
			[]string{"validation/deployment.apps/huge: spec.replicas: 3000000000 is out of range: a count goes from 0 to 2147483647"}},
		{"a weight beyond int32",
			paused("validation", "heavy", 3, `kfed.dev/replica-weights: "usa=3000000000"`),
			[]string{`annotation kfed.dev/replica-weights: "usa=3000000000": the count 3000000000 is out of range; a count goes from 0 to 2147483647`}},
		{"a maximum beyond int32",
			paused("validation", "capped", 3, `kfed.dev/replica-max: "jpn=99999999999"`),
			[]string{`annotation kfed.dev/replica-max: "jpn=99999999999": the count 99999999999 is out of range`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := fedFail(t, "apply", "-f", manifest(t, tc.doc))
			for _, want := range append(tc.want, "nothing was applied") {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
				}
			}
			if strings.Contains(res.Stderr, "-1294967296") {
				t.Errorf("a wrapped number is reported:\n%s", res.Stderr)
			}
		})
	}
	// Nothing reached any member: not even the namespace.
	for _, c := range members {
		if get(t, c, gvrNamespaces, "", "validation") != nil {
			t.Errorf("refused objects created namespace validation in %s", c)
		}
	}

	// An empty placement that is meant: recorded (delete finds it), written
	// nowhere.
	path := manifest(t, configMap("parked", `kfed.dev/clusters: "mars"`))
	res := fed(t, "apply", "-f", path, "--allow-empty")
	if !strings.Contains(res.Stderr, "its placement selects no member") {
		t.Errorf("--allow-empty without a warning:\n%s", res)
	}
	for _, c := range members {
		if get(t, c, gvrConfigMaps, "validation", "parked") != nil {
			t.Errorf("configmap parked reached %s", c)
		}
	}
	fed(t, "delete", "-f", path)
}
