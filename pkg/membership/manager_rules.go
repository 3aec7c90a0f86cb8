package membership

// What the manager identity may do in a member: the grant the operator
// chose at join, and the rules of the roles kfed writes for it.

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// The roles and bindings join writes for the manager, besides its anchor
// binding (ManagerClusterRoleBinding).
const (
	// ManagerClusterRole is the role kfed writes for the manager, and binds
	// it to unless the operator names another: every namespaced kind the
	// member serves, in every namespace, the kinds of the federation's
	// CRDs, namespaces and CRDs. With --manager-namespaces it holds the
	// cluster-wide reads alone.
	ManagerClusterRole = v1alpha1.DefaultManagerClusterRole
	// ManagerNamespacedClusterRole holds the namespaced rules that the
	// RoleBindings of --manager-namespaces grant in each namespace.
	ManagerNamespacedClusterRole = "kfed-manager-namespaced"
	// ManagerRoleBinding is the name of those RoleBindings.
	ManagerRoleBinding = "kfed-manager"
)

// ManagerGrant is what the manager identity is given in a member.
type ManagerGrant struct {
	// ClusterRole is the ClusterRole the anchor binding names.
	ClusterRole string
	// Namespaces, when set, are the only namespaces the manager may write
	// (kfed-system, where kfed keeps its own objects, besides). ClusterRole
	// is then ManagerClusterRole.
	Namespaces []string
}

// GrantOf returns the grant a Cluster records.
func GrantOf(c *v1alpha1.Cluster) ManagerGrant {
	return ManagerGrant{ClusterRole: c.Spec.ManagerClusterRole, Namespaces: c.Spec.ManagerNamespaces}
}

// KfedOwned reports whether the anchor names the role that join writes.
func (g ManagerGrant) KfedOwned() bool { return g.ClusterRole == ManagerClusterRole }

// Scoped reports whether the manager may write only some namespaces.
func (g ManagerGrant) Scoped() bool { return len(g.Namespaces) > 0 }

// Describe says in one line which role the manager was granted and what it
// allows.
func (g ManagerGrant) Describe() string {
	switch {
	case g.Scoped():
		return fmt.Sprintf("ClusterRole %s through RoleBindings in namespaces %s (and %s): it may write any namespaced kind there and read namespaces, nothing else",
			ManagerNamespacedClusterRole, strings.Join(g.Namespaces, ", "), v1alpha1.Namespace)
	case g.KfedOwned():
		return "ClusterRole " + ManagerClusterRole + ": it may write every namespaced kind the member serves, in every namespace, namespaces, CRDs and the kinds of the federation's CRDs; " +
			"no other cluster-wide kind (no nodes, no ClusterRoles), no impersonation, no RBAC escalation"
	case g.ClusterRole == "cluster-admin":
		return "ClusterRole cluster-admin: it may do anything in the member"
	}
	return "ClusterRole " + g.ClusterRole + ", the operator's own: it may do what that role allows"
}

// managerVerbs are the verbs the manager is given on the kinds it writes:
// what server-side apply, get, diff, delete and prune use. Not impersonate,
// bind, escalate or approve.
var managerVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// notDistributed are namespaced resources that nothing a federation
// distributes needs: binding pods to nodes is the scheduler's, and access
// reviews are questions, not objects.
var notDistributed = map[schema.GroupResource]bool{
	{Group: "", Resource: "bindings"}:                                      true,
	{Group: "authorization.k8s.io", Resource: "localsubjectaccessreviews"}: true,
}

// customKind is a kind that a CRD the federation distributes defines.
type customKind struct {
	Group, Plural string
	Namespaced    bool
}

// namespacedRules returns the rules that let the manager write every
// namespaced resource of lists, as discovery gave them, each with the
// managerVerbs it serves, and the kinds of custom, which the member may not
// serve yet: the federation's CRDs that a sync is about to give it.
// Subresources are left out, and with them pods/exec, pods/attach,
// pods/portforward, services/proxy and serviceaccounts/token. Resources
// with the same verbs in the same group share a rule, so the role reads
// like one written by hand.
func namespacedRules(lists []*metav1.APIResourceList, custom []customKind) []rbacv1.PolicyRule {
	type key struct{ group, verbs string }
	byKey := map[key][]string{}
	add := func(group, resource string, verbs []string) {
		k := key{group, strings.Join(verbs, ",")}
		if !slices.Contains(byKey[k], resource) {
			byKey[k] = append(byKey[k], resource)
		}
	}
	served := map[schema.GroupResource]bool{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") || notDistributed[gv.WithResource(r.Name).GroupResource()] {
				continue
			}
			var verbs []string
			for _, v := range managerVerbs {
				if slices.Contains(r.Verbs, v) {
					verbs = append(verbs, v)
				}
			}
			if len(verbs) == 0 {
				continue
			}
			served[gv.WithResource(r.Name).GroupResource()] = true
			add(gv.Group, r.Name, verbs)
		}
	}
	for _, c := range custom {
		if gr := (schema.GroupResource{Group: c.Group, Resource: c.Plural}); c.Namespaced && !served[gr] {
			served[gr] = true
			add(c.Group, c.Plural, managerVerbs)
		}
	}
	keys := make([]key, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].group != keys[j].group {
			return keys[i].group < keys[j].group
		}
		return keys[i].verbs < keys[j].verbs
	})
	rules := make([]rbacv1.PolicyRule, 0, len(keys))
	for _, k := range keys {
		resources := byKey[k]
		sort.Strings(resources)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{k.group}, Resources: resources, Verbs: strings.Split(k.verbs, ",")})
	}
	return rules
}

// clusterRules returns the manager's cluster-wide rules: namespaces, CRDs
// and the cluster-scoped kinds of the federation's CRDs, which apply
// creates and delete removes, or only the reads of namespaces when it may
// write some namespaces alone; and the deletes of join's own objects,
// which an unjoin run with the manager's credential makes.
func clusterRules(scoped bool, custom []customKind) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
	}
	for _, c := range custom {
		if !c.Namespaced {
			rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{c.Group}, Resources: []string{c.Plural}, Verbs: managerVerbs})
		}
	}
	if scoped {
		rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}}}
	}
	return append(rules,
		rbacv1.PolicyRule{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterrolebindings"},
			ResourceNames: []string{ManagerClusterRoleBinding, DNSReaderClusterRoleBinding}, Verbs: []string{"get", "delete"}},
		rbacv1.PolicyRule{APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles"},
			ResourceNames: []string{ManagerClusterRole, ManagerNamespacedClusterRole, DNSReaderClusterRole}, Verbs: []string{"get", "delete"}},
	)
}

// managerRoles returns the ClusterRoles kfed writes for a grant, by name:
// none for a role of the operator's, ManagerClusterRole with everything for
// the default, and the cluster-wide and the namespaced rules apart for
// --manager-namespaces.
func managerRoles(g ManagerGrant, lists []*metav1.APIResourceList, custom []customKind) map[string][]rbacv1.PolicyRule {
	namespaced := namespacedRules(lists, custom)
	switch {
	case g.Scoped():
		return map[string][]rbacv1.PolicyRule{
			ManagerClusterRole:           clusterRules(true, nil),
			ManagerNamespacedClusterRole: namespaced,
		}
	case g.KfedOwned():
		return map[string][]rbacv1.PolicyRule{ManagerClusterRole: append(namespaced, clusterRules(false, custom)...)}
	}
	return nil
}

// bindingNamespaces returns where RoleBindings grant the namespaced rules:
// the grant's namespaces and kfed-system, sorted.
func (g ManagerGrant) bindingNamespaces() []string {
	if !g.Scoped() {
		return nil
	}
	out := append([]string{v1alpha1.Namespace}, g.Namespaces...)
	sort.Strings(out)
	return slices.Compact(out)
}

// objects names, as kubectl does, the roles and RoleBindings kfed writes for
// the grant, which go with the anchor binding.
func (g ManagerGrant) objects() []string {
	var out []string
	if g.KfedOwned() {
		out = append(out, "clusterrole/"+ManagerClusterRole)
	}
	if g.Scoped() {
		out = append(out, "clusterrole/"+ManagerNamespacedClusterRole)
		for _, ns := range g.bindingNamespaces() {
			out = append(out, "rolebinding/"+ManagerRoleBinding+" in "+ns)
		}
	}
	return out
}
