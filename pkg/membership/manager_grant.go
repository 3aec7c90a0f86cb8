package membership

// How join gives the manager its grant in a member: it decides the grant
// before anything is written, writes kfed's roles and RoleBindings owned by
// the anchor binding, and, once the join has succeeded, removes what an
// earlier grant left.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/discovery"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/validation"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
)

// planGrant decides the manager's grant: the flags, else what the Cluster
// recorded (a re-run keeps what the first join decided), else the
// federation's default. It reads what the roles need from the member, so
// that a grant that cannot be given stops the join before any write.
func (r *joinRun) planGrant(ctx context.Context) error {
	g := ManagerGrant{ClusterRole: r.ManagerClusterRole, Namespaces: r.ManagerNamespaces}
	switch {
	case g.Scoped():
		if g.ClusterRole != "" {
			return fmt.Errorf("--manager-namespaces and --manager-cluster-role %s cannot go together: the first binds kfed's roles in those namespaces, the second a ClusterRole everywhere", g.ClusterRole)
		}
		g.ClusterRole = ManagerClusterRole
	case g.ClusterRole != "":
	case r.existing != nil && r.existing.Spec.ManagerClusterRole != "":
		g = GrantOf(r.existing)
	default:
		g.ClusterRole = r.Federation.ManagerClusterRoleOrDefault()
	}
	g.Namespaces = slices.Compact(slices.Sorted(slices.Values(g.Namespaces)))
	r.grant = g

	if g.KfedOwned() {
		return r.planRules(ctx)
	}
	if _, err := r.member.RbacV1().ClusterRoles().Get(ctx, g.ClusterRole, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("ClusterRole %q does not exist in the member: create it, or choose another with --manager-cluster-role", g.ClusterRole)
		}
		return fmt.Errorf("reading ClusterRole %q in the member: %w", g.ClusterRole, err)
	}
	if g.ClusterRole == "cluster-admin" {
		r.Warnf("the manager identity gets cluster-admin in the member: whoever can read its credential in the host (secret %s/%s) may do anything there",
			r.Host.Namespace, store.CredentialSecretName(r.Name, v1alpha1.IdentityManager))
	}
	return nil
}

// planRules reads which namespaced kinds the member serves, for the rules
// of kfed's roles, and checks the namespaces of a scoped grant.
func (r *joinRun) planRules(ctx context.Context) error {
	for _, ns := range r.grant.Namespaces {
		if msgs := validation.ClusterName(ns); len(msgs) > 0 {
			return fmt.Errorf("invalid --manager-namespaces entry %q: %s", ns, strings.Join(msgs, "; "))
		}
		got, err := r.member.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %s does not exist in the member: create it first (kubectl --context %s create namespace %s), since the manager may not create namespaces with --manager-namespaces",
				ns, r.Member.Context, ns)
		}
		if err != nil {
			return fmt.Errorf("reading namespace %s in the member: %w", ns, err)
		}
		if got.DeletionTimestamp != nil {
			return fmt.Errorf("namespace %s in the member is being deleted: choose others for --manager-namespaces", ns)
		}
	}
	disco, ok := r.member.Discovery().(*discovery.DiscoveryClient)
	if !ok {
		return fmt.Errorf("reading which kinds the member serves: no discovery client")
	}
	lists, err := disco.ServerPreferredNamespacedResources()
	if err != nil {
		var partial *discovery.ErrGroupDiscoveryFailed
		if !errors.As(err, &partial) || len(lists) == 0 {
			return fmt.Errorf("reading which kinds the member serves: %w", err)
		}
		// An aggregated API that is down keeps its kinds out of the role
		// until join runs again; the rest need not wait for it.
		var groups []string
		for gv := range partial.Groups {
			groups = append(groups, gv.String())
		}
		sort.Strings(groups)
		r.Warnf("the member did not say which kinds %s serve: the manager may not write them until join runs again", strings.Join(groups, ", "))
	}
	custom, err := r.federationKinds(ctx)
	if err != nil {
		return err
	}
	r.roles = managerRoles(r.grant, lists, custom)
	return nil
}

// federationKinds returns the kinds of the CRDs the federation distributes,
// from its inventory in the host: a member that does not serve them yet
// gets them from the next sync, and its manager must be able to write them
// then.
func (r *joinRun) federationKinds(ctx context.Context) ([]customKind, error) {
	inv, err := inventory.New(r.Host, r.fed)
	if err != nil {
		return nil, err
	}
	var out []customKind
	opts := metav1.ListOptions{LabelSelector: v1alpha1.LabelFederation + "=" + r.fed, Limit: 500}
	for {
		list, err := inv.Records.List(ctx, opts)
		if apierrors.IsNotFound(err) {
			// A host without an inventory distributes nothing.
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading which CRDs federation %s distributes: %w", r.fed, err)
		}
		for i := range list.Items {
			rec := &list.Items[i]
			if k := inventory.KeyOfRecord(rec); k.Group != "apiextensions.k8s.io" || k.Kind != "CustomResourceDefinition" || rec.Spec.Template == nil {
				continue
			}
			var crd struct {
				Spec struct {
					Group string `json:"group"`
					Scope string `json:"scope"`
					Names struct {
						Plural string `json:"plural"`
					} `json:"names"`
				} `json:"spec"`
			}
			if json.Unmarshal(rec.Spec.Template.Raw, &crd) != nil || crd.Spec.Group == "" || crd.Spec.Names.Plural == "" {
				continue
			}
			out = append(out, customKind{Group: crd.Spec.Group, Plural: crd.Spec.Names.Plural, Namespaced: crd.Spec.Scope != "Cluster"})
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group+"/"+out[i].Plural < out[j].Group+"/"+out[j].Plural })
	return out, nil
}

// ensureManagerRoles writes the ClusterRoles kfed keeps for the grant, so
// that the anchor binding names a role that exists.
func (r *joinRun) ensureManagerRoles(ctx context.Context) error {
	for _, name := range slices.Sorted(maps.Keys(r.roles)) {
		if err := r.ensureClusterRole(ctx, name, v1alpha1.IdentityManager, r.roles[name]); err != nil {
			return err
		}
	}
	return nil
}

// ownManagerGrants makes the anchor the owner of kfed's roles for the
// manager, and writes the RoleBindings of a scoped grant, owned by it too:
// deleting the anchor takes them all.
func (r *joinRun) ownManagerGrants(ctx context.Context, anchor *rbacv1.ClusterRoleBinding) error {
	rbac := r.member.RbacV1().RESTClient()
	for name := range r.roles {
		cr, err := r.member.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("reading clusterrole/%s in the member: %w", name, err)
		}
		if err := r.ensureOwner(ctx, "clusterrole/"+name, cr, anchor, func(ctx context.Context, refs []metav1.OwnerReference) error {
			return patchOwners(ctx, rbac, "clusterroles", "", name, refs)
		}); err != nil {
			return err
		}
	}
	for _, ns := range r.grant.bindingNamespaces() {
		if err := r.ensureRoleBinding(ctx, ns, anchor); err != nil {
			return err
		}
	}
	return nil
}

// ensureRoleBinding grants the manager the namespaced rules in ns.
func (r *joinRun) ensureRoleBinding(ctx context.Context, ns string, anchor *rbacv1.ClusterRoleBinding) error {
	rbs := r.member.RbacV1().RoleBindings(ns)
	want := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ManagerRoleBinding, Namespace: ns, Labels: identityLabels(r.fed, v1alpha1.IdentityManager),
			OwnerReferences: []metav1.OwnerReference{anchorRef(anchor)}},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ManagerNamespacedClusterRole},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ManagerServiceAccount, Namespace: v1alpha1.Namespace}},
	}
	what := "rolebinding/" + ManagerRoleBinding + " in " + ns
	cur, err := rbs.Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("reading %s in the member: %w", what, err)
	case !isOurs(cur):
		return fmt.Errorf("%s already exists in the member and was not made by kubectl-fed: remove or rename it first", what)
	case cur.RoleRef == want.RoleRef && apiequality.Semantic.DeepEqual(cur.Subjects, want.Subjects) && hasLabels(cur, want.Labels):
		// A replaced anchor let go of it: only the owner changes.
		return r.ensureOwner(ctx, what, cur, anchor, func(ctx context.Context, refs []metav1.OwnerReference) error {
			return patchOwners(ctx, r.member.RbacV1().RESTClient(), "rolebindings", ns, ManagerRoleBinding, refs)
		})
	default:
		old := cur.DeepCopy()
		if err := rbs.Delete(ctx, cur.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cur.UID}}); err != nil {
			return fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (replaced)", func(ctx context.Context) error {
			old.ResourceVersion, old.UID = "", ""
			_, err := rbs.Create(ctx, old, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		})
	}
	created, err := rbs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return fmt.Errorf("creating %s in the member: %w", what, err)
	}
	r.j.add("member", what, func(ctx context.Context) error {
		return rbs.Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
	})
	return nil
}

// dropStaleGrants removes what an earlier grant gave the manager that this
// one does not: RoleBindings in namespaces no longer listed, and kfed's
// roles when the manager is now bound to the operator's. The join has
// succeeded by then, so failures are warnings that name what to delete.
func (r *joinRun) dropStaleGrants(ctx context.Context) {
	var failed []string
	keep := map[string]bool{}
	for _, ns := range r.grant.bindingNamespaces() {
		keep[ns] = true
	}
	// Of any federation: one the member was taken from left them too.
	ours := identityLabels(r.fed, v1alpha1.IdentityManager)
	delete(ours, v1alpha1.LabelFederation)
	sel := labels.SelectorFromSet(ours).String()
	rbs, err := r.member.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		r.Warnf("could not list the manager's RoleBindings in the member, which may still grant it more than asked: %v", err)
	} else {
		for _, rb := range rbs.Items {
			if rb.Name != ManagerRoleBinding || keep[rb.Namespace] {
				continue
			}
			if err := r.member.RbacV1().RoleBindings(rb.Namespace).Delete(ctx, rb.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				failed = append(failed, fmt.Sprintf("-n %s rolebinding %s", rb.Namespace, rb.Name))
			}
		}
	}
	for _, name := range []string{ManagerClusterRole, ManagerNamespacedClusterRole} {
		if _, ok := r.roles[name]; ok {
			continue
		}
		cr, err := r.member.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		// A member belongs to one federation at a time: kfed's role left by
		// another federation it was taken from goes too.
		if apierrors.IsNotFound(err) || (err == nil && !isOurs(cr)) {
			continue
		}
		if err == nil {
			err = r.member.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cr.UID}})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			failed = append(failed, "clusterrole "+name)
		}
	}
	for _, f := range failed {
		r.Warnf("the manager's earlier grant stays until you delete it: kubectl --context %s delete %s", r.Member.Context, f)
	}
}

// checkGrantNotForeign refuses to overwrite roles of the names kfed writes
// for the manager that someone else made.
func (r *joinRun) checkGrantNotForeign(ctx context.Context) error {
	for name := range r.roles {
		cr, err := r.member.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading clusterrole %s in the member: %w", name, err)
		}
		if !isOurs(cr) {
			return fmt.Errorf("clusterrole %s already exists in the member and was not made by kubectl-fed (no %s=%s label): remove or rename it first, since kfed writes the manager's role under that name",
				name, v1alpha1.LabelManagedBy, v1alpha1.ManagedBy)
		}
	}
	return nil
}
