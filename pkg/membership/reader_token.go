package membership

import (
	"context"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// DNSReaderTokenRole is the Role, in the member's kfed-system, that lets
// the DNS reader request tokens of its own ServiceAccount and of no other:
// coredns-fed refreshes the reader's token with the reader's token, so that
// DNS keeps its members while no kubectl fed command runs. coredns-fed
// binds each new token to the anchor of the one it replaces (the reader can
// neither read nor make anchors), so deleting that anchor still revokes
// them all. RBAC cannot make a request name an anchor: whoever holds a
// reader token may mint reader tokens that are bound to nothing, which can
// do no more than the reader and are revoked by deleting the reader's
// ServiceAccount, as unjoin does; deleting this Role stops the minting.
const DNSReaderTokenRole = "kfed-dns-reader-tokens"

// DNSReaderTokenRules are what DNSReaderTokenRole allows: create
// serviceaccounts/token on the reader's own ServiceAccount, by name.
func DNSReaderTokenRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{
		APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"},
		ResourceNames: []string{DNSReaderServiceAccount}, Verbs: []string{"create"},
	}}
}

// ensureReaderTokenRole grants the DNS reader DNSReaderTokenRole. Unjoin
// deletes it; it is owned by the membership's anchor too, so that the
// member's garbage collector takes it with it if an unjoin could not.
func (r *joinRun) ensureReaderTokenRole(ctx context.Context, anchor *rbacv1.ClusterRoleBinding) error {
	return r.ensureOwnedRole(ctx, anchor, DNSReaderTokenRole, v1alpha1.IdentityDNSReader, DNSReaderServiceAccount, DNSReaderTokenRules())
}

// ensureOwnedRole grants the ServiceAccount sa of kfed-system a Role name
// there with rules, through a RoleBinding of the same name, both labelled
// as the identity's and owned by the membership's anchor.
func (r *joinRun) ensureOwnedRole(ctx context.Context, anchor *rbacv1.ClusterRoleBinding, name, identity, sa string, rules []rbacv1.PolicyRule) error {
	labels := identityLabels(r.fed, identity)
	owner := []metav1.OwnerReference{anchorRef(anchor)}
	roles := r.member.RbacV1().Roles(v1alpha1.Namespace)
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: owner}, Rules: rules}
	if err := ensureObject(ctx, r, "role/"+name, role, roles.Get, roles.Create, roles.Update, roles.Delete,
		func(cur, want *rbacv1.Role) bool { return apiequality.Semantic.DeepEqual(cur.Rules, want.Rules) },
		func(cur, want *rbacv1.Role) { cur.Rules = want.Rules }); err != nil {
		return err
	}
	bindings := r.member.RbacV1().RoleBindings(v1alpha1.Namespace)
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: owner},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa, Namespace: v1alpha1.Namespace}},
	}
	return ensureObject(ctx, r, "rolebinding/"+name, binding, bindings.Get, bindings.Create, bindings.Update, bindings.Delete,
		func(cur, want *rbacv1.RoleBinding) bool {
			return cur.RoleRef == want.RoleRef && apiequality.Semantic.DeepEqual(cur.Subjects, want.Subjects)
		},
		func(cur, want *rbacv1.RoleBinding) { cur.Subjects = want.Subjects })
}
