package plugin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/placement"
)

// applySeeds are manifests as a hostile or careless user writes them: the
// input of FuzzReadManifest's corpus.
var applySeeds = []string{
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: shop\ndata: {a: b}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    kfed.dev/replica-weights: usa=2\n    kfed.dev/overrides: \"[{clusters: [jpn], mergePatch: {metadata: {labels: {jp: 'yes'}}}}]\"\nspec: {replicas: 5}\n",
	`{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}]}`,
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n name: web\n   namespace: shop\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: web\n",
	"- just\n- a list\n",
	"just a string\n",
	"\x00\x01\x02\xff\xfe garbage \x7f",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: shop}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 5, labels: [a]}\n",
	"apiVersion: nothing.example/v9\nkind: Gadget\nmetadata: {name: g}\n",
	"kind: ConfigMap\nmetadata: {name: a}\n",
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {kfed.dev/clusters: 'USA,,', kfed.dev/replica-min: 'usa=-1'}}\n",
	"a: &a [*a, *a, *a]\n",
	"apiVersion: kfed.dev/v1alpha1\nkind: Federation\nmetadata: {name: other}\n",
}

// fuzzTargets are three Ready members, as NewPlan sees them.
func fuzzTargets() []*distribute.Target {
	var out []*distribute.Target
	for _, name := range []string{"eur", "jpn", "usa"} {
		c := v1alpha1.Cluster{}
		c.Name = name
		out = append(out, &distribute.Target{Cluster: c, Member: placement.Member{Name: name}, Ready: true})
	}
	return out
}

// FuzzReadManifest reads any file as `kubectl fed apply -f` does, and
// plans every object it yields over three members, as apply does before
// its first write. Nothing may panic; what NewPlan plans has an
// apiVersion and a kind; what NewPlan and CheckName both accept is written to members only as kfed's, without kfed's placement
// annotations, under the name and namespace it was given.
func FuzzReadManifest(f *testing.F) {
	for _, seed := range applySeeds {
		f.Add([]byte(seed))
	}
	host := newHostFlags(genericclioptions.NewConfigFlags(false))
	targets := fuzzTargets()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "manifest.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		objs, err := readObjects(host, &resource.FilenameOptions{Filenames: []string{path}})
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		for _, obj := range objs {
			if obj.GetNamespace() == "" {
				obj.SetNamespace("default")
			}
			p, err := distribute.NewPlan("magicring", obj, targets)
			if err != nil {
				continue
			}
			if obj.GetAPIVersion() == "" || obj.GetKind() == "" {
				t.Fatalf("planned an object without apiVersion or kind: %v", obj.Object)
			}
			if distribute.CheckName(p.Key) != nil {
				continue
			}
			for cluster, o := range p.Objects {
				checkRenderedObject(t, cluster, p, o.GetName(), o.GetNamespace(), o.GetLabels(), o.GetAnnotations())
			}
		}
	})
}

func checkRenderedObject(t *testing.T, cluster string, p *distribute.Plan, name, namespace string, labels, annotations map[string]string) {
	t.Helper()
	if name != p.Key.Name || namespace != p.Key.Namespace {
		t.Fatalf("%s goes to %s as %s/%s", p.Key, cluster, namespace, name)
	}
	if labels[v1alpha1.LabelFederation] != "magicring" || labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedBy {
		t.Fatalf("%s goes to %s without kfed's labels: %v", p.Key, cluster, labels)
	}
	for k := range annotations {
		for _, placementKey := range placement.Keys {
			if k == placementKey {
				t.Fatalf("%s goes to %s with its placement annotation %s", p.Key, cluster, k)
			}
		}
	}
	if strings.Contains(name, "/") {
		t.Fatalf("%s: a name with a slash passed CheckName", p.Key)
	}
}
