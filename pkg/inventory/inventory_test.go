package inventory

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{Key{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}, "shop/deployment.apps/web"},
		{Key{Kind: "Namespace", Name: "shop"}, "namespace/shop"},
		{Key{Group: "example.com", Kind: "Widget", Name: "w"}, "widget.example.com/w"},
	} {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.k, got, tc.want)
		}
	}
}

func TestRecordName(t *testing.T) {
	a := RecordName("ring", Key{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"})
	b := RecordName("ring", Key{Group: "apps", Kind: "Deployment", Namespace: "other", Name: "web"})
	if a == b {
		t.Errorf("two objects share the record name %s", a)
	}
	if !strings.HasPrefix(a, "ring-deployment-web-") {
		t.Errorf("name %s is not readable", a)
	}
	long := RecordName("ring", Key{Kind: "ConfigMap", Namespace: "n", Name: strings.Repeat("x", 253)})
	if errs := validation.IsDNS1123Subdomain(long); len(errs) > 0 {
		t.Errorf("name of a long object is invalid: %v", errs)
	}
	odd := RecordName("ring", Key{Kind: "ConfigMap", Namespace: "n", Name: "Has_Odd:Chars"})
	if errs := validation.IsDNS1123Subdomain(odd); len(errs) > 0 {
		t.Errorf("%s: %v", odd, errs)
	}
}

func TestStatusOf(t *testing.T) {
	now := metav1.Now()
	old := []v1alpha1.ClusterResult{
		{Name: "usa", Action: v1alpha1.ActionCreated, Time: now},
		{Name: "eur", Action: v1alpha1.ActionFailed, Time: now},
		{Name: "jpn", Action: v1alpha1.ActionUnchanged, Time: now},
	}
	st := statusOf(keep(old, []string{"jpn"}), []v1alpha1.ClusterResult{{Name: "eur", Action: v1alpha1.ActionConfigured, Time: now}})
	var names []string
	for _, c := range st.Clusters {
		names = append(names, c.Name+"="+c.Action)
	}
	if want := []string{"eur=configured", "usa=created"}; !reflect.DeepEqual(names, want) {
		t.Errorf("clusters %v, want %v", names, want)
	}
	if st.Summary != "2/2 applied" {
		t.Errorf("summary %q", st.Summary)
	}
}
