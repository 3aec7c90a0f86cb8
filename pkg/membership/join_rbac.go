package membership

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// ensureManagerBinding binds the manager to the ClusterRole of its grant.
// The binding is the membership's anchor; a change of role replaces it
// without letting the garbage collector take what it owns.
func (r *joinRun) ensureManagerBinding(ctx context.Context) (*rbacv1.ClusterRoleBinding, error) {
	crbs := r.member.RbacV1().ClusterRoleBindings()
	want := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ManagerClusterRoleBinding, Labels: identityLabels(r.fed, v1alpha1.IdentityManager)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: r.grant.ClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: ManagerServiceAccount, Namespace: v1alpha1.Namespace}},
	}
	what := "clusterrolebinding/" + ManagerClusterRoleBinding
	cur, err := crbs.Get(ctx, want.Name, metav1.GetOptions{})
	if err == nil && cur.RoleRef == want.RoleRef && apiequality.Semantic.DeepEqual(cur.Subjects, want.Subjects) && hasLabels(cur, want.Labels) {
		return cur, nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if err == nil {
		// roleRef cannot change in place. Orphan what the old binding
		// owns; ensureOwner gives it to the new one.
		old := cur.DeepCopy()
		orphan := metav1.DeletePropagationOrphan
		if err := crbs.Delete(ctx, cur.Name, metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
			return nil, fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		// The garbage collector releases what the binding owned before the
		// binding goes; only then can the name be used again.
		if err := waitGone(ctx, func(ctx context.Context) error {
			_, err := crbs.Get(ctx, cur.Name, metav1.GetOptions{})
			return err
		}); err != nil {
			return nil, fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (role "+old.RoleRef.Name+")", func(ctx context.Context) error {
			// Put the old binding back; what it owned keeps the new
			// owner's reference, which the old one's absence makes moot.
			_ = crbs.Delete(ctx, old.Name, metav1.DeleteOptions{PropagationPolicy: &orphan})
			old.ResourceVersion, old.UID = "", ""
			_, err := crbs.Create(ctx, old, metav1.CreateOptions{})
			return err
		})
		what += " (role " + r.grant.ClusterRole + ")"
	}
	created, err := crbs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("creating %s in the member: %w", what, err)
	}
	// Undoing the owner references runs first, so nothing that must stay
	// is owned by the binding when it goes.
	r.j.add("member", what, func(ctx context.Context) error {
		return crbs.Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID}})
	})
	return created, nil
}

// ensureClusterRole writes a ClusterRole of one of kfed's identities with
// exactly the rules given, repairing one that drifted.
func (r *joinRun) ensureClusterRole(ctx context.Context, name, identity string, rules []rbacv1.PolicyRule) error {
	crs := r.member.RbacV1().ClusterRoles()
	want := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: identityLabels(r.fed, identity)},
		Rules:      rules,
	}
	what := "clusterrole/" + name
	cur, err := crs.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := crs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error { return crs.Delete(ctx, want.Name, metav1.DeleteOptions{}) })
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if apiequality.Semantic.DeepEqual(cur.Rules, want.Rules) && cur.AggregationRule == nil && hasLabels(cur, want.Labels) {
		return nil
	}
	old := cur.DeepCopy()
	cur.Rules, cur.AggregationRule = want.Rules, nil
	withLabels(cur, want.Labels)
	if _, err := crs.Update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("repairing %s in the member: %w", what, err)
	}
	r.j.add("member", what+" (rules)", func(ctx context.Context) error {
		c, err := crs.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Rules, c.AggregationRule, c.Labels = old.Rules, old.AggregationRule, old.Labels
		_, err = crs.Update(ctx, c, metav1.UpdateOptions{})
		return err
	})
	return nil
}

func (r *joinRun) ensureReaderBinding(ctx context.Context) error {
	crbs := r.member.RbacV1().ClusterRoleBindings()
	want := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: DNSReaderClusterRoleBinding, Labels: identityLabels(r.fed, v1alpha1.IdentityDNSReader)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: DNSReaderClusterRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: DNSReaderServiceAccount, Namespace: v1alpha1.Namespace}},
	}
	what := "clusterrolebinding/" + DNSReaderClusterRoleBinding
	cur, err := crbs.Get(ctx, want.Name, metav1.GetOptions{})
	if err == nil && cur.RoleRef == want.RoleRef && apiequality.Semantic.DeepEqual(cur.Subjects, want.Subjects) && hasLabels(cur, want.Labels) {
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if err == nil {
		old := cur.DeepCopy()
		if err := crbs.Delete(ctx, cur.Name, metav1.DeleteOptions{}); err != nil {
			return fmt.Errorf("replacing %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (replaced)", func(ctx context.Context) error {
			_ = crbs.Delete(ctx, old.Name, metav1.DeleteOptions{})
			old.ResourceVersion, old.UID = "", ""
			_, err := crbs.Create(ctx, old, metav1.CreateOptions{})
			return err
		})
	}
	if _, err := crbs.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("creating %s in the member: %w", what, err)
	}
	r.j.add("member", what, func(ctx context.Context) error { return crbs.Delete(ctx, want.Name, metav1.DeleteOptions{}) })
	return nil
}
