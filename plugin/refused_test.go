package plugin

import (
	"reflect"
	"testing"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

func TestDeleteCommands(t *testing.T) {
	got := deleteCommands([]inventory.Key{
		{Kind: "ConfigMap", Namespace: "shop", Name: "UpperCase"},
		{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"},
		{Kind: "ConfigMap", Namespace: "default", Name: "it's"},
		{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:odd"},
	})
	want := []string{
		"kubectl fed delete clusterrole.rbac.authorization.k8s.io/system:odd",
		`kubectl fed delete 'configmap/it'\''s' -n default`,
		"kubectl fed delete configmap/UpperCase deployment.apps/web -n shop",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestNeverPlaced(t *testing.T) {
	rec := func(actions ...string) *v1alpha1.FederatedObject {
		r := &v1alpha1.FederatedObject{}
		for i, a := range actions {
			r.Status.Clusters = append(r.Status.Clusters, v1alpha1.ClusterResult{Name: string(rune('a' + i)), Action: a})
		}
		return r
	}
	for _, tc := range []struct {
		actions []string
		want    bool
	}{
		{[]string{"failed", "failed", "failed"}, true},
		{[]string{"failed", "pending-deletion"}, true},
		{[]string{"failed", "created"}, false},
		{[]string{"unchanged"}, false},
		// Nothing known yet is not a failure: a record written before its
		// writes, say.
		{nil, false},
		{[]string{"pending"}, false},
	} {
		if got := neverPlaced(rec(tc.actions...)); got != tc.want {
			t.Errorf("neverPlaced(%v) = %v, want %v", tc.actions, got, tc.want)
		}
	}
}

func TestRefusedHint(t *testing.T) {
	key := inventory.Key{Kind: "ConfigMap", Namespace: "default", Name: "UpperCase"}
	failed := &inventory.Entry{Record: &v1alpha1.FederatedObject{Status: v1alpha1.FederatedObjectStatus{
		Clusters: []v1alpha1.ClusterResult{{Name: "usa", Action: v1alpha1.ActionFailed}},
	}}}
	placed := &inventory.Entry{Record: &v1alpha1.FederatedObject{Status: v1alpha1.FederatedObjectStatus{
		Clusters: []v1alpha1.ClusterResult{{Name: "eur", Action: v1alpha1.ActionCreated}},
	}}}
	for _, tc := range []struct {
		name  string
		d     distribute.Difference
		entry *inventory.Entry
		want  string
	}{
		{"for now", distribute.Difference{Key: key}, failed,
			"a write there fails for now; apply or sync may succeed once that has passed"},
		{"never placed", distribute.Difference{Key: key, Lasting: true}, failed,
			"no member ever accepted it, and neither apply nor sync can create it as it is: fix its manifest and apply it, or take it out of the federation with `kubectl fed delete configmap/UpperCase -n default`"},
		{"placed elsewhere", distribute.Difference{Key: key, Lasting: true}, placed,
			"neither apply nor sync can create it there as it is: fix its manifest or its placement and apply it"},
		{"not recorded", distribute.Difference{Key: key, Lasting: true}, nil,
			"neither apply nor sync can create it there as it is: fix its manifest or its placement and apply it"},
		{"exists", distribute.Difference{Key: key, Exists: true, Lasting: true}, placed,
			"apply and sync fail on it until its manifest is fixed and applied"},
	} {
		if got := refusedHint(tc.d, tc.entry); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
}
