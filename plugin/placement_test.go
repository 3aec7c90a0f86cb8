package plugin

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/placement"
)

func TestRefuseEmptyPlacement(t *testing.T) {
	var targets []*distribute.Target
	for _, m := range []placement.Member{
		{Name: "eur", Labels: map[string]string{"env": "prod"}},
		{Name: "jpn", Labels: map[string]string{"env": "staging"}},
		{Name: "usa", Labels: map[string]string{"env": "prod"}},
	} {
		c := v1alpha1.Cluster{}
		c.Name = m.Name
		// A member that is not Ready is still selected: its share waits
		// for it, and that is no empty placement.
		targets = append(targets, &distribute.Target{Cluster: c, Member: m, Ready: m.Name != "jpn"})
	}
	plan := func(name string, annotations map[string]string) *distribute.Plan {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetName(name)
		u.SetNamespace("shop")
		u.SetAnnotations(annotations)
		p, err := distribute.NewPlan("ring", u, targets)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := []*distribute.Plan{
		plan("everywhere", nil),
		plan("some-unknown", map[string]string{placement.AnnotationClusters: "usa,mars"}),
		plan("not-ready", map[string]string{placement.AnnotationClusters: "jpn"}),
	}
	if err := refuseEmptyPlacement(ok, targets); err != nil {
		t.Fatal(err)
	}
	err := refuseEmptyPlacement(append(ok,
		plan("planets", map[string]string{placement.AnnotationClusters: "mars,venus"}),
		plan("dev", map[string]string{placement.AnnotationClusterSelector: "env=dev"}),
	), targets)
	want := `nothing was applied:
shop/configmap/planets: kfed.dev/clusters names mars, venus, and none of them is a member; the members are eur, jpn, usa
shop/configmap/dev: kfed.dev/cluster-selector "env=dev" matches no member; the members are eur (env=prod), jpn (env=staging), usa (env=prod)
fix the placement, or pass --allow-empty if these are meant to go to no member for now`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if !strings.Contains(err.Error(), "--allow-empty") {
		t.Errorf("the error does not name --allow-empty")
	}
}
