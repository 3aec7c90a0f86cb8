package membership

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

func (r *joinRun) applyMember(ctx context.Context) error {
	ns, createdNS, err := r.ensureNamespace(ctx)
	if err != nil {
		return err
	}
	// kfed's roles exist before the binding that names them.
	if err := r.ensureManagerRoles(ctx); err != nil {
		return err
	}
	anchor, err := r.ensureManagerBinding(ctx)
	if err != nil {
		return err
	}
	if err := r.ownManagerGrants(ctx, anchor); err != nil {
		return err
	}
	if createdNS || isOurs(ns) {
		// Only a namespace join created goes with the membership; a host's
		// own namespace, or one the user made, stays.
		if err := r.ensureOwner(ctx, "namespace/"+ns.Name, ns, anchor, func(ctx context.Context, refs []metav1.OwnerReference) error {
			return patchOwners(ctx, r.member.CoreV1().RESTClient(), "namespaces", "", ns.Name, refs)
		}); err != nil {
			return err
		}
	}
	managerSA, err := r.ensureServiceAccount(ctx, ManagerServiceAccount, v1alpha1.IdentityManager, anchor)
	if err != nil {
		return err
	}
	readerSA, err := r.ensureServiceAccount(ctx, DNSReaderServiceAccount, v1alpha1.IdentityDNSReader, nil)
	if err != nil {
		return err
	}
	if err := r.ensureTokenRole(ctx, anchor); err != nil {
		return err
	}
	if err := r.ensureClusterRole(ctx, DNSReaderClusterRole, v1alpha1.IdentityDNSReader, DNSReaderRules()); err != nil {
		return err
	}
	if err := r.ensureReaderBinding(ctx); err != nil {
		return err
	}
	if err := r.ensureReaderTokenRole(ctx, anchor); err != nil {
		return err
	}
	for _, id := range []struct {
		identity string
		sa       *corev1.ServiceAccount
	}{{v1alpha1.IdentityManager, managerSA}, {v1alpha1.IdentityDNSReader, readerSA}} {
		if err := r.ensureToken(ctx, id.identity, id.sa); err != nil {
			return err
		}
	}
	return r.ensureMarker(ctx)
}

func (r *joinRun) ensureNamespace(ctx context.Context) (*corev1.Namespace, bool, error) {
	nsClient := r.member.CoreV1().Namespaces()
	ns, err := nsClient.Get(ctx, v1alpha1.Namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ns, err = nsClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: v1alpha1.Namespace, Labels: memberLabels(r.fed),
		}}, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err != nil {
			return nil, false, fmt.Errorf("creating namespace %s in the member: %w", v1alpha1.Namespace, err)
		}
		r.j.add("member", "namespace/"+v1alpha1.Namespace, func(ctx context.Context) error {
			return nsClient.Delete(ctx, v1alpha1.Namespace, metav1.DeleteOptions{})
		})
		return ns, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading namespace %s in the member: %w", v1alpha1.Namespace, err)
	}
	if ns.DeletionTimestamp != nil {
		return nil, false, fmt.Errorf("namespace %s in the member is being deleted, perhaps by an earlier unjoin: wait until it is gone and join again", v1alpha1.Namespace)
	}
	// A namespace join made for another federation changes hands on a takeover.
	if isOurs(ns) && ns.Labels[v1alpha1.LabelFederation] != r.fed {
		old := ns.DeepCopy()
		withLabels(ns, memberLabels(r.fed))
		if ns, err = nsClient.Update(ctx, ns, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return nil, false, fmt.Errorf("relabelling namespace %s in the member: %w", v1alpha1.Namespace, err)
		}
		r.j.add("member", "namespace/"+v1alpha1.Namespace+" (labels)", func(ctx context.Context) error {
			return restoreLabels(ctx, r.member.CoreV1().RESTClient(), "namespaces", "", old)
		})
	}
	return ns, false, nil
}

func (r *joinRun) ensureServiceAccount(ctx context.Context, name, identity string, owner *rbacv1.ClusterRoleBinding) (*corev1.ServiceAccount, error) {
	sas := r.member.CoreV1().ServiceAccounts(v1alpha1.Namespace)
	what := "serviceaccount/" + name
	sa, err := sas.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		sa = &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: identityLabels(r.fed, identity)}}
		if owner != nil {
			sa.OwnerReferences = []metav1.OwnerReference{anchorRef(owner)}
		}
		if sa, err = sas.Create(ctx, sa, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return nil, fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error {
			return sas.Delete(ctx, name, metav1.DeleteOptions{})
		})
		return sa, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if !hasLabels(sa, identityLabels(r.fed, identity)) {
		old := sa.DeepCopy()
		withLabels(sa, identityLabels(r.fed, identity))
		if sa, err = sas.Update(ctx, sa, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return nil, fmt.Errorf("relabelling %s in the member: %w", what, err)
		}
		r.j.add("member", what+" (labels)", func(ctx context.Context) error {
			return restoreLabels(ctx, r.member.CoreV1().RESTClient(), "serviceaccounts", v1alpha1.Namespace, old)
		})
	}
	if owner != nil {
		err := r.ensureOwner(ctx, what, sa, owner, func(ctx context.Context, refs []metav1.OwnerReference) error {
			return patchOwners(ctx, r.member.CoreV1().RESTClient(), "serviceaccounts", v1alpha1.Namespace, name, refs)
		})
		if err != nil {
			return nil, err
		}
	}
	return sa, nil
}

// ensureOwner makes the anchor the only kfed owner of obj.
func (r *joinRun) ensureOwner(ctx context.Context, what string, obj metav1.Object, anchor *rbacv1.ClusterRoleBinding, patch func(context.Context, []metav1.OwnerReference) error) error {
	old := obj.GetOwnerReferences()
	var refs []metav1.OwnerReference
	for _, ref := range old {
		if ref.Kind == "ClusterRoleBinding" && ref.Name == ManagerClusterRoleBinding {
			continue
		}
		refs = append(refs, ref)
	}
	refs = append(refs, anchorRef(anchor))
	if apiequality.Semantic.DeepEqual(refs, old) {
		return nil
	}
	if err := patch(ctx, refs); err != nil {
		return fmt.Errorf("setting the owner of %s in the member: %w", what, err)
	}
	// Undo removes the reference rather than restoring the old one: the
	// binding the old one named may be gone by then, and the garbage
	// collector deletes whatever points only at owners that are gone.
	var undoRefs []metav1.OwnerReference
	for _, ref := range old {
		if !(ref.Kind == "ClusterRoleBinding" && ref.Name == ManagerClusterRoleBinding) {
			undoRefs = append(undoRefs, ref)
		}
	}
	r.j.add("member", what+" (owner)", func(ctx context.Context) error { return patch(ctx, undoRefs) })
	return nil
}

func (r *joinRun) ensureMarker(ctx context.Context) error {
	cms := r.member.CoreV1().ConfigMaps(v1alpha1.Namespace)
	data := map[string]string{
		keyFederation: r.fed,
		keyCluster:    r.Name,
		keyHostID:     r.hostID,
		keyHostServer: r.Host.Config.Host,
	}
	what := "configmap/" + MembershipConfigMap
	if r.marker == nil {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: MembershipConfigMap, Labels: memberLabels(r.fed)}, Data: data}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error { return cms.Delete(ctx, MembershipConfigMap, metav1.DeleteOptions{}) })
		return nil
	}
	if maps.Equal(r.marker.Data, data) && hasLabels(r.marker, memberLabels(r.fed)) {
		return nil
	}
	old := r.marker.DeepCopy()
	cm := r.marker.DeepCopy()
	cm.Data = data
	withLabels(cm, memberLabels(r.fed))
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("updating %s in the member: %w", what, err)
	}
	r.j.add("member", what+" (membership)", func(ctx context.Context) error {
		cur, err := cms.Get(ctx, old.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Data, cur.Labels = old.Data, old.Labels
		_, err = cms.Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	return nil
}
