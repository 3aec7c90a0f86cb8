package membership

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestDNSReaderRules pins the reader's rights: list and watch on Services
// and EndpointSlices, nothing else.
func TestDNSReaderRules(t *testing.T) {
	granted := map[string]bool{}
	for _, r := range DNSReaderRules() {
		if strings.Join(r.Verbs, ",") != "list,watch" {
			t.Errorf("rule %v grants %v", r.Resources, r.Verbs)
		}
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v is not a plain resource rule", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				granted[g+"/"+res] = true
			}
		}
	}
	want := []string{"/services", "discovery.k8s.io/endpointslices"}
	if len(granted) != len(want) {
		t.Errorf("the reader is granted %v, want %v", granted, want)
	}
	for _, w := range want {
		if !granted[w] {
			t.Errorf("the reader is not granted %s", w)
		}
	}
}

// TestRollback checks the journal: last change undone first, NotFound
// counting as undone, transient failures retried until they pass, and
// refusals reported as what was left.
func TestRollback(t *testing.T) {
	var order []string
	transient := 2
	var j journal
	j.add("member", "namespace/kfed-system", func(context.Context) error { order = append(order, "ns"); return nil })
	j.add("member", "serviceaccount/kfed-manager", func(context.Context) error {
		order = append(order, "sa")
		if transient > 0 {
			transient--
			return errors.New("connection refused")
		}
		return nil
	})
	j.add("host", "secret/eur-manager-kubeconfig", func(context.Context) error {
		order = append(order, "secret")
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, "eur-manager-kubeconfig")
	})
	j.add("host", "cluster.kfed.dev/eur", func(context.Context) error {
		order = append(order, "cluster")
		return apierrors.NewForbidden(schema.GroupResource{Group: "kfed.dev", Resource: "clusters"}, "eur", errors.New("no"))
	})
	left, errs := j.rollback(10 * time.Second)
	if got := strings.Join(order, ","); got != "cluster,secret,sa,sa,sa,ns" {
		t.Errorf("undo order = %s", got)
	}
	if len(left) != 1 || left[0].what != "cluster.kfed.dev/eur" || len(errs) != 1 {
		t.Fatalf("left = %v, errs = %v", left, errs)
	}
	msg := (&errRolledBack{cause: errors.New("boom"), left: left, errs: errs}).Error()
	if !strings.Contains(msg, "left behind in the host: cluster.kfed.dev/eur") {
		t.Errorf("the error does not say what was left: %s", msg)
	}
	if msg := (&errRolledBack{cause: errors.New("boom")}).Error(); msg != "boom; every change was rolled back" {
		t.Errorf("a clean rollback says %q", msg)
	}
}

// TestRollbackBudget checks that a side that never answers again costs at
// most the budget.
func TestRollbackBudget(t *testing.T) {
	var j journal
	j.add("member", "serviceaccount/kfed-manager", func(context.Context) error { return errors.New("connection refused") })
	begin := time.Now()
	left, _ := j.rollback(time.Second)
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("rollback took %s with a budget of 1s", took)
	}
	if len(left) != 1 {
		t.Errorf("left = %v", left)
	}
}

func TestLabelPatch(t *testing.T) {
	p := labelPatch(map[string]string{"kubernetes.io/metadata.name": "kfed-system", "kfed.dev/federation": "other"})
	if p["kfed.dev/federation"] != "other" || p["kubernetes.io/metadata.name"] != "kfed-system" {
		t.Errorf("labelPatch lost a label: %v", p)
	}
	for _, k := range []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/component", "kfed.dev/identity"} {
		if v, ok := p[k]; !ok || v != nil {
			t.Errorf("labelPatch does not remove %s: %v", k, p)
		}
	}
}

// TestManagerRules checks the rules kfed's manager role is made of: every
// namespaced resource with the verbs it serves, no subresource, no
// binding of pods, the kinds of the federation's CRDs, and cluster-wide
// only namespaces, CRDs and join's own objects by name.
func TestManagerRules(t *testing.T) {
	crud := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: crud},
			{Name: "pods/exec", Namespaced: true, Verbs: []string{"create", "get"}},
			{Name: "serviceaccounts", Namespaced: true, Verbs: crud},
			{Name: "serviceaccounts/token", Namespaced: true, Verbs: []string{"create"}},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
			{Name: "nodes", Verbs: crud},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Namespaced: true, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "escalate"}},
			{Name: "reports", Namespaced: true, Verbs: []string{"get", "list"}},
		}},
	}
	custom := []customKind{{Group: "example.com", Plural: "widgets", Namespaced: true}, {Group: "stable.example.com", Plural: "crontabs", Namespaced: true}, {Group: "example.com", Plural: "globals"}}
	rules := managerRoles(ManagerGrant{ClusterRole: ManagerClusterRole}, lists, custom)[ManagerClusterRole]
	granted := map[string]string{}
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				key := g + "/" + res
				if len(r.ResourceNames) > 0 {
					key += "=" + strings.Join(r.ResourceNames, ",")
				}
				granted[key] = strings.Join(r.Verbs, ",")
			}
		}
	}
	want := map[string]string{
		"/pods":                       "get,list,watch,create,update,patch,delete,deletecollection",
		"/serviceaccounts":            "get,list,watch,create,update,patch,delete,deletecollection",
		"example.com/widgets":         "get,list,watch,create,update,patch,delete,deletecollection",
		"example.com/reports":         "get,list",
		"stable.example.com/crontabs": "get,list,watch,create,update,patch,delete,deletecollection",
		"example.com/globals":         "get,list,watch,create,update,patch,delete,deletecollection",
		"/namespaces":                 "get,list,watch,create,update,patch,delete",
		"apiextensions.k8s.io/customresourcedefinitions":                                              "get,list,watch,create,update,patch,delete",
		"rbac.authorization.k8s.io/clusterrolebindings=kfed-manager,kfed-dns-reader":                  "get,delete",
		"rbac.authorization.k8s.io/clusterroles=kfed-manager,kfed-manager-namespaced,kfed-dns-reader": "get,delete",
	}
	if !maps.Equal(granted, want) {
		t.Errorf("kfed-manager grants\n%v\nwant\n%v", granted, want)
	}

	scoped := managerRoles(ManagerGrant{ClusterRole: ManagerClusterRole, Namespaces: []string{"shop"}}, lists, custom)
	if len(scoped) != 2 {
		t.Fatalf("a scoped grant has roles %v, want %s and %s", slices.Collect(maps.Keys(scoped)), ManagerClusterRole, ManagerNamespacedClusterRole)
	}
	for _, r := range scoped[ManagerClusterRole] {
		if slices.Contains(r.Resources, "namespaces") && !slices.Equal(r.Verbs, []string{"get", "list", "watch"}) {
			t.Errorf("a scoped manager may %v namespaces", r.Verbs)
		}
		if slices.Contains(r.Resources, "customresourcedefinitions") || slices.Contains(r.Resources, "globals") {
			t.Errorf("a scoped manager may write CRDs or cluster-wide custom kinds: %+v", r)
		}
	}
	for _, r := range scoped[ManagerNamespacedClusterRole] {
		if slices.Contains(r.Resources, "namespaces") || len(r.ResourceNames) > 0 {
			t.Errorf("the namespaced role has a cluster-wide rule %+v", r)
		}
	}
	if got := (ManagerGrant{ClusterRole: "cluster-admin"}); managerRoles(got, nil, nil) != nil {
		t.Errorf("a role of the operator's gets kfed roles too")
	}
	if got := (ManagerGrant{ClusterRole: ManagerClusterRole, Namespaces: []string{"web", "shop"}}).bindingNamespaces(); !slices.Equal(got, []string{"kfed-system", "shop", "web"}) {
		t.Errorf("RoleBindings go to %v", got)
	}
}

// TestDNSReaderTokenRules pins what the reader may do besides reading:
// request tokens of its own ServiceAccount, by name, and nothing else.
func TestDNSReaderTokenRules(t *testing.T) {
	rules := DNSReaderTokenRules()
	if len(rules) != 1 {
		t.Fatalf("the reader's token Role has %d rules, want 1: %+v", len(rules), rules)
	}
	r := rules[0]
	if !slices.Equal(r.APIGroups, []string{""}) || !slices.Equal(r.Resources, []string{"serviceaccounts/token"}) ||
		!slices.Equal(r.ResourceNames, []string{DNSReaderServiceAccount}) || !slices.Equal(r.Verbs, []string{"create"}) {
		t.Errorf("the reader's token Role grants %+v, want create serviceaccounts/token on %s only", r, DNSReaderServiceAccount)
	}
}
