//go:build e2e

package security

import (
	"context"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Issue 14, done-when 6: hostile input is refused before the first write
// and loses nothing. Each case here is refused by `kubectl fed apply -f`
// (or init) with an error that names the problem, and leaves nothing
// behind: no namespace or object in any member, no inventory record, no
// lock held.

// hostileValid is a Namespace and a ConfigMap that kfed applies: put
// before a bad object in one file, nothing of it may be written either.
const hostileValid = `apiVersion: v1
kind: Namespace
metadata:
  name: hostile
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
  namespace: hostile
data: {a: b}
---
`

// hostileAliasBomb is a ConfigMap whose YAML aliases would expand to 9^9
// strings ("billion laughs").
const hostileAliasBomb = `apiVersion: v1
kind: ConfigMap
metadata: {name: laughs, namespace: hostile}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

// hostileAnnotated returns a ConfigMap of namespace hostile with the
// annotations given, in YAML flow form.
func hostileAnnotated(annotations string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: annotated\n  namespace: hostile\n  annotations: {" + annotations + "}\ndata: {a: b}\n"
}

// hostileDeployment returns a paused Deployment of namespace hostile with
// replicas and the annotations given.
func hostileDeployment(replicas, annotations string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: hostile
  annotations: {` + annotations + `}
spec:
  paused: true
  replicas: ` + replicas + `
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.k8s.io/pause:3.10}]
`
}

// TestHostileManifests applies, each after a Namespace and a ConfigMap
// that are fine, manifests a hostile or careless user writes: malformed
// YAML, what is not an object, kinds no member serves, names no member
// takes, and every kind of mistake in the placement, override and split
// annotations. The YAML decoder's own limits stop alias bombs and deep
// nesting at once, with little memory.
func TestHostileManifests(t *testing.T) {
	long := strings.Repeat("n", 300)
	for _, tc := range []struct {
		name string
		doc  string
		want []string
	}{
		{"bad indentation",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: indent\n   namespace: hostile\n",
			[]string{"mapping values are not allowed in this context"}},
		{"a tab",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tab\n",
			[]string{"found character that cannot start any token"}},
		{"a list and not an object",
			"- apiVersion: v1\n- kind: ConfigMap\n",
			[]string{"cannot unmarshal array", "each document of the input must be a Kubernetes object"}},
		{"a string and not an object",
			"just a string\n",
			[]string{"cannot unmarshal string", "each document of the input must be a Kubernetes object"}},
		{"binary garbage",
			"\x00\x01\x02\x7f\xff\xfe\x1b[31m\x00",
			[]string{"yaml: control characters are not allowed"}},
		{"an alias bomb",
			hostileAliasBomb,
			[]string{"yaml: document contains excessive aliasing"}},
		{"nesting a hundred thousand deep",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep, namespace: hostile}\nx: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
			[]string{"exceeded max depth of 10000"}},
		{"no kind",
			"apiVersion: v1\nmetadata: {name: nokind, namespace: hostile}\n",
			[]string{"Object 'Kind' is missing"}},
		{"no apiVersion",
			"kind: ConfigMap\nmetadata: {name: noversion, namespace: hostile}\n",
			[]string{`object "noversion" has no apiVersion or kind`}},
		{"an unknown kind",
			"apiVersion: v1\nkind: Gadget\nmetadata: {name: g, namespace: hostile}\n",
			[]string{`Gadget "g": no Ready member serves kind Gadget`}},
		{"an unknown apiVersion",
			"apiVersion: gadgets.example.com/v9\nkind: Gadget\nmetadata: {name: g, namespace: hostile}\n",
			[]string{`Gadget "g": no Ready member serves kind Gadget.gadgets.example.com`}},
		{"no name",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: hostile}\n",
			[]string{"ConfigMap: objects need a metadata.name"}},
		{"a name that is a number",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 5, namespace: hostile}\n",
			[]string{"cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"}},
		{"a name with an underscore",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: hostile}\n",
			[]string{`hostile/configmap/Bad_Name: metadata.name "Bad_Name" is invalid (the name of a ConfigMap is a DNS subdomain): a lowercase RFC 1123 subdomain`}},
		{"a name of 300 characters",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + long + ", namespace: hostile}\n",
			[]string{"must be no more than 253 characters"}},
		{"a Service name that is not a DNS label",
			"apiVersion: v1\nkind: Service\nmetadata: {name: web.shop, namespace: hostile}\nspec: {ports: [{port: 80}]}\n",
			[]string{`metadata.name "web.shop" is invalid (the name of a Service is a DNS-1035 label)`}},
		{"a namespace that is not a DNS label",
			"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine2, namespace: Hostile_NS}\n",
			[]string{`metadata.namespace "Hostile_NS" is invalid: a lowercase RFC 1123 label`}},
		{"clusters: not a name",
			hostileAnnotated(`kfed.dev/clusters: "USA,eur"`),
			[]string{`hostile/configmap/annotated: annotation kfed.dev/clusters: "USA" is not a cluster name`}},
		{"clusters: empty",
			hostileAnnotated(`kfed.dev/clusters: " , "`),
			[]string{"annotation kfed.dev/clusters: no cluster named"}},
		{"cluster-selector: not a selector",
			hostileAnnotated(`kfed.dev/cluster-selector: "env in prod"`),
			[]string{"annotation kfed.dev/cluster-selector:", "write a label selector as for kubectl -l"}},
		{"overrides: not a list",
			hostileAnnotated(`kfed.dev/overrides: "not: a list"`),
			[]string{"annotation kfed.dev/overrides:", "write a list of {clusters or clusterSelector, mergePatch or jsonPatch}"}},
		{"overrides: no clusters",
			hostileAnnotated(`kfed.dev/overrides: "[{mergePatch: {data: {a: c}}}]"`),
			[]string{"annotation kfed.dev/overrides, override 1: give exactly one of clusters and clusterSelector"}},
		{"overrides: no patch",
			hostileAnnotated(`kfed.dev/overrides: "[{clusters: [jpn]}]"`),
			[]string{"override 1: give exactly one of mergePatch and jsonPatch"}},
		{"overrides: a jsonPatch without op",
			hostileAnnotated(`kfed.dev/overrides: "[{clusters: [jpn], jsonPatch: [{path: /data/a}]}]"`),
			[]string{"override 1: jsonPatch operation 1 needs an op and a path"}},
		{"overrides: a mergePatch that is not an object",
			hostileAnnotated(`kfed.dev/overrides: "[{clusters: [jpn], mergePatch: [1]}]"`),
			[]string{"override 1: mergePatch must be an object"}},
		{"overrides: an unknown field",
			hostileAnnotated(`kfed.dev/overrides: "[{clusters: [jpn], mergePatch: {data: {a: c}}, when: always}]"`),
			[]string{"annotation kfed.dev/overrides:", `unknown field "when"`}},
		{"overrides: a patch that does not fit",
			hostileAnnotated(`kfed.dev/overrides: "[{clusters: [jpn], jsonPatch: [{op: replace, path: /spec/nothing/here, value: 1}]}]"`),
			[]string{"hostile/configmap/annotated: override 1 for cluster jpn:"}},
		{"overrides: renaming the object",
			hostileAnnotated(`kfed.dev/overrides: "[{clusters: [jpn], mergePatch: {metadata: {name: other}}}]"`),
			[]string{"override 1: mergePatch at metadata.name", "overrides may not change the object's kind, name or namespace"}},
		{"replica-weights: not CLUSTER=COUNT",
			hostileDeployment("4", `kfed.dev/replica-weights: "usa=two"`),
			[]string{`hostile/deployment.apps/web: annotation kfed.dev/replica-weights: "usa=two" is not CLUSTER=COUNT`}},
		{"replica-min: negative",
			hostileDeployment("4", `kfed.dev/replica-min: "usa=-1"`),
			[]string{`annotation kfed.dev/replica-min: "usa=-1": the count -1 is negative`}},
		{"replica-max: given twice",
			hostileDeployment("4", `kfed.dev/replica-max: "usa=1,usa=2"`),
			[]string{"annotation kfed.dev/replica-max: cluster usa is given twice"}},
		{"replica-max below replica-min",
			hostileDeployment("4", `kfed.dev/replica-min: "usa=3", kfed.dev/replica-max: "usa=2"`),
			[]string{"usa has maximum 2 below its minimum 3"}},
		{"a split that cannot fit",
			hostileDeployment("10", `kfed.dev/replica-max: "usa=1,eur=1,jpn=1"`),
			[]string{"hostile/deployment.apps/web: splitting 10 replicas over [eur jpn usa]: only 3 of 10 replicas fit under the per-cluster maximums"}},
		{"replicas that are not a number",
			hostileDeployment(`"ten"`, ``),
			[]string{"hostile/deployment.apps/web: spec.replicas: ten is a string, not a number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hostileRecordNames(t)
			res := hostileRun(t, "apply", "-f", hostileManifest(t, hostileValid+tc.doc))
			if res.ExitCode == 0 {
				t.Fatalf("apply succeeded, want a refusal:\n%s", res)
			}
			t.Logf("stderr: %.500s", res.Stderr)
			for _, want := range tc.want {
				if !strings.Contains(res.Stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
				}
			}
			if res.Stdout != "" {
				t.Errorf("a refused apply printed results:\n%s", res.Stdout)
			}
			hostileNamespaceAbsent(t, "hostile")
			if after := hostileRecordNames(t); !reflect.DeepEqual(before, after) {
				t.Errorf("the inventory changed: %d records before, %d after", len(before), len(after))
			}
			hostileLockFree(t)
		})
	}
}

var hostileFederations = schema.GroupVersionResource{Group: "kfed.dev", Version: "v1alpha1", Resource: "federations"}

// TestHostileInit runs `kubectl fed init` with federation names and
// domains that are not valid, against the host and against a member that
// holds no federation: each is refused, naming the value and the rule,
// and nothing is created.
func TestHostileInit(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a name with an underscore", []string{"Bad_Name", "--domain", "ok.example.com"}, `invalid federation name "Bad_Name": a lowercase RFC 1123 label`},
		{"a name with a dot", []string{"a.b", "--domain", "ok.example.com"}, `invalid federation name "a.b"`},
		{"a name of 300 characters", []string{long, "--domain", "ok.example.com"}, "must be no more than 63 characters"},
		{"an empty domain label", []string{"hostile-fed", "--domain", "a..b"}, `invalid domain "a..b": must not contain empty labels`},
		{"a domain label starting with a dash", []string{"hostile-fed", "--domain", "-x.com"}, `invalid domain "-x.com": label "-x": a lowercase RFC 1123 label`},
		{"a domain of 300 characters", []string{"hostile-fed", "--domain", long + ".com"}, "must be no more than 253 characters"},
		{"a domain with a space", []string{"hostile-fed", "--domain", "with space.example.com"}, `invalid domain "with space.example.com": label "with space"`},
		{"a domain that is one label", []string{"hostile-fed", "--domain", "com"}, "must have at least two labels"},
		{"a domain that is an address", []string{"hostile-fed", "--domain", "10.0.0.1"}, "must be a DNS name, not an IP address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, cluster := range []string{hostCtx, "jpn"} {
				before := hostileInitState(t, cluster)
				res, err := kubectl.Run(context.Background(), append([]string{"fed", "init"}, append(tc.args, "--context", cluster)...)...)
				if err != nil {
					t.Fatal(err)
				}
				if res.ExitCode == 0 || !strings.Contains(res.Stderr, tc.want) {
					t.Errorf("%s: want a refusal containing %q:\n%s", cluster, tc.want, res)
				}
				if res.Stdout != "" {
					t.Errorf("%s: a refused init printed what it did:\n%s", cluster, res.Stdout)
				}
				if after := hostileInitState(t, cluster); !reflect.DeepEqual(before, after) {
					t.Errorf("%s: init changed the cluster:\nbefore %v\nafter  %v", cluster, before, after)
				}
			}
		})
	}
}

// hostileInitState returns what init would create or change in a
// cluster: its kfed- namespaces, its kfed.dev CRDs, and its Federations.
func hostileInitState(t *testing.T, cluster string) []string {
	t.Helper()
	ctx := context.Background()
	var state []string
	nss, err := hostileClient(cluster).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		// Only kfed's: namespaces other tests deleted may finish
		// terminating meanwhile.
		if strings.HasPrefix(ns.Name, "kfed-") {
			state = append(state, "namespace/"+ns.Name+"@"+ns.ResourceVersion)
		}
	}
	d := dynamic.NewForConfigOrDie(testLab.Cluster(cluster).RESTConfig())
	crds, err := d.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hasFederations := false
	for _, crd := range crds.Items {
		if strings.HasSuffix(crd.GetName(), ".kfed.dev") {
			state = append(state, "crd/"+crd.GetName()+"@"+crd.GetResourceVersion())
			hasFederations = hasFederations || crd.GetName() == "federations.kfed.dev"
		}
	}
	if hasFederations {
		feds, err := d.Resource(hostileFederations).Namespace("kfed-system").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range feds.Items {
			state = append(state, "federation/"+f.GetName()+"@"+f.GetResourceVersion())
		}
	}
	return state
}
