package membership

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
)

// Unjoin removes one member from its federation.
type Unjoin struct {
	Host    *store.Store
	Cluster *v1alpha1.Cluster
	// Member is how the user reaches the member; nil means with the
	// manager identity the host holds.
	Member *MemberAccess
	// DeleteResources also deletes what kfed distributed to the member.
	DeleteResources bool
	// Force removes the member from the host even when it cannot be
	// reached, or cleaned, and reports what was left in it.
	Force bool
	// Timeout bounds each request to the member.
	Timeout time.Duration
	// Progress, if set, is told how many inventory records have been
	// taken care of, of how many.
	Progress func(done, total int)
	// DeleteProgress, if set, is told how many distributed objects have
	// been deleted in the member, of how many found so far.
	DeleteProgress func(done, total int)
}

// UnjoinResult describes an unjoin.
type UnjoinResult struct {
	// Removed lists what was deleted in the member, as kubectl names it.
	Removed []string
	// Distributed counts the distributed objects deleted, by resource.
	Distributed map[string]int
	// KeptNamespaces lists the namespaces kfed made that stay, because
	// something else lives in them.
	KeptNamespaces []KeptNamespace
	// Left lists what stays in the member, when it could not be cleaned.
	Left []string
	// Reason says why the member could not be cleaned.
	Reason error
	// Host lists what was deleted in the host.
	Host []string
	// Forgotten counts the inventory records the member was taken out of.
	Forgotten int
	// Resumed is set when an earlier, interrupted unjoin had cleaned the
	// member already, and this one finished the host's side.
	Resumed bool
}

// KeptNamespace is a namespace kfed made that an unjoin leaves.
type KeptNamespace struct {
	Name string
	// Reason says why: "it holds configmap/notes, which kfed did not
	// create".
	Reason string
}

// Run removes the member's identities and roles (and, if asked, what kfed
// distributed to it), then its credentials and Cluster in the host. The
// host is only cleaned once the member is, unless Force says otherwise, so
// that a failed unjoin can be run again.
//
// It goes in steps that a second run can pick up after an interruption:
// the member is cleaned, and the Cluster marked so (AnnotationUnjoin);
// then the inventory forgets the member, the credentials go, and the
// Cluster last, since it is what leads a second run to what is left. A run
// that finds the mark skips the member, whose credentials may be gone.
func (u *Unjoin) Run(ctx context.Context) (*UnjoinResult, error) {
	res := &UnjoinResult{}
	if u.Cluster.Annotations[v1alpha1.AnnotationUnjoin] == v1alpha1.UnjoinMemberCleaned {
		res.Resumed = true
	} else {
		cfg, err := u.memberConfig(ctx)
		if err == nil {
			err = u.cleanMember(ctx, cfg, res)
		}
		if err != nil {
			if !u.Force {
				return nil, fmt.Errorf("%w; to remove it from the federation anyway, run the unjoin again with --force (kfed's identities then stay in the member)", err)
			}
			res.Reason = err
			res.Left = u.leftovers(ctx)
		}
		if err := u.markCleaned(ctx); err != nil {
			return res, err
		}
	}
	if err := u.cleanHost(ctx, res); err != nil {
		return res, err
	}
	return res, nil
}

// markCleaned records on the Cluster that the member is done with.
func (u *Unjoin) markCleaned(ctx context.Context) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationUnjoin, v1alpha1.UnjoinMemberCleaned)
	_, err := u.Host.Clusters.Patch(ctx, u.Cluster.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: v1alpha1.ManagedBy})
	if err != nil {
		return fmt.Errorf("recording on cluster.kfed.dev/%s that the member is clean: %w; run the unjoin again", u.Cluster.Name, err)
	}
	return nil
}

// memberConfig returns the client configuration for the member, after
// checking that it reaches the cluster that joined.
func (u *Unjoin) memberConfig(ctx context.Context) (*rest.Config, error) {
	var cfg *rest.Config
	via := "the manager identity"
	if u.Member != nil {
		cfg, via = rest.CopyConfig(u.Member.Config), fmt.Sprintf("context %q", u.Member.Context)
	} else {
		var err error
		if cfg, _, err = u.Host.MemberConfig(ctx, u.Cluster, v1alpha1.IdentityManager); err != nil {
			return nil, fmt.Errorf("cannot reach cluster %q: %w", u.Cluster.Name, err)
		}
	}
	if u.Timeout > 0 {
		cfg.Timeout = u.Timeout
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	id, err := store.ClusterID(ctx, kube.CoreV1().Namespaces())
	if err != nil {
		return nil, fmt.Errorf("cannot reach cluster %q (%s) with %s: %w", u.Cluster.Name, cfg.Host, via, err)
	}
	if id != u.Cluster.Spec.ClusterID {
		return nil, fmt.Errorf("%s reaches another cluster than the one joined as %q (kube-system UID %s, not %s)", via, u.Cluster.Name, id, u.Cluster.Spec.ClusterID)
	}
	return cfg, nil
}

// cleanMember deletes kfed's objects in the member, the anchor binding last.
func (u *Unjoin) cleanMember(ctx context.Context, cfg *rest.Config, res *UnjoinResult) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	fed := u.Cluster.Spec.Federation
	marker, err := kube.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(ctx, MembershipConfigMap, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		// Already gone, or never finished: clean what carries our labels.
	case err != nil:
		return fmt.Errorf("reading the membership of cluster %q: %w", u.Cluster.Name, err)
	case marker.Data[keyFederation] != fed || marker.Data[keyCluster] != u.Cluster.Name:
		// Another federation took the member over; what is there is its.
		res.Left = []string{fmt.Sprintf("the member now belongs to federation %q as %q; its identities were left to it",
			marker.Data[keyFederation], marker.Data[keyCluster])}
		return nil
	}

	if u.DeleteResources {
		n, kept, err := deleteDistributed(ctx, cfg, fed, GrantOf(u.Cluster).Namespaces, u.DeleteProgress)
		res.Distributed, res.KeptNamespaces = n, kept
		if err != nil {
			return fmt.Errorf("deleting what kfed distributed to cluster %q: %w", u.Cluster.Name, err)
		}
	}

	del := func(what string, fn func() error) error {
		err := fn()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("deleting %s in cluster %q: %w", what, u.Cluster.Name, err)
		}
		res.Removed = append(res.Removed, what)
		return nil
	}
	core, rbac := kube.CoreV1(), kube.RbacV1()
	steps := []struct {
		what string
		fn   func() error
	}{
		{"configmap/" + MembershipConfigMap, func() error {
			return core.ConfigMaps(v1alpha1.Namespace).Delete(ctx, MembershipConfigMap, metav1.DeleteOptions{})
		}},
		{"clusterrolebinding/" + DNSReaderClusterRoleBinding, func() error {
			return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
				return rbac.ClusterRoleBindings().Get(ctx, DNSReaderClusterRoleBinding, metav1.GetOptions{})
			}, func() error {
				return rbac.ClusterRoleBindings().Delete(ctx, DNSReaderClusterRoleBinding, metav1.DeleteOptions{})
			})
		}},
		{"clusterrole/" + DNSReaderClusterRole, func() error {
			return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
				return rbac.ClusterRoles().Get(ctx, DNSReaderClusterRole, metav1.GetOptions{})
			}, func() error { return rbac.ClusterRoles().Delete(ctx, DNSReaderClusterRole, metav1.DeleteOptions{}) })
		}},
		{"rolebinding/" + DNSReaderTokenRole, func() error {
			return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
				return rbac.RoleBindings(v1alpha1.Namespace).Get(ctx, DNSReaderTokenRole, metav1.GetOptions{})
			}, func() error {
				return rbac.RoleBindings(v1alpha1.Namespace).Delete(ctx, DNSReaderTokenRole, metav1.DeleteOptions{})
			})
		}},
		{"role/" + DNSReaderTokenRole, func() error {
			return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
				return rbac.Roles(v1alpha1.Namespace).Get(ctx, DNSReaderTokenRole, metav1.GetOptions{})
			}, func() error {
				return rbac.Roles(v1alpha1.Namespace).Delete(ctx, DNSReaderTokenRole, metav1.DeleteOptions{})
			})
		}},
		{"serviceaccount/" + DNSReaderServiceAccount, func() error {
			return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
				return core.ServiceAccounts(v1alpha1.Namespace).Get(ctx, DNSReaderServiceAccount, metav1.GetOptions{})
			}, func() error {
				return core.ServiceAccounts(v1alpha1.Namespace).Delete(ctx, DNSReaderServiceAccount, metav1.DeleteOptions{})
			})
		}},
	}
	for _, s := range steps {
		if err := del(s.what, s.fn); err != nil {
			return err
		}
	}
	// Token Secrets and anchors: every one of the DNS reader, and the
	// manager's too when the user's own credentials are doing the work.
	// The manager's last token is what this unjoin may be running on; its
	// anchor goes with the manager's ServiceAccount.
	tokens, err := core.Secrets(v1alpha1.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(memberLabels(fed)).String(),
	})
	if err != nil {
		return fmt.Errorf("listing kfed's token Secrets in cluster %q: %w", u.Cluster.Name, err)
	}
	sort.Slice(tokens.Items, func(i, j int) bool { return tokens.Items[i].Name < tokens.Items[j].Name })
	for _, s := range tokens.Items {
		if s.Type != corev1.SecretTypeServiceAccountToken && s.Type != store.SecretTypeTokenAnchor {
			continue
		}
		if s.Annotations[corev1.ServiceAccountNameKey] == ManagerServiceAccount && u.Member == nil {
			continue
		}
		if err := del("secret/"+s.Name, func() error {
			return core.Secrets(v1alpha1.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		}); err != nil {
			return err
		}
	}

	// The namespace goes if join made it; never the host's own.
	ns, err := core.Namespaces().Get(ctx, v1alpha1.Namespace, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s in cluster %q: %w", v1alpha1.Namespace, u.Cluster.Name, err)
	}
	nsIsOurs := err == nil && isOurs(ns) && ns.Labels[v1alpha1.LabelFederation] == fed
	if u.Member != nil {
		if err := del("serviceaccount/"+ManagerServiceAccount, func() error {
			return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
				return core.ServiceAccounts(v1alpha1.Namespace).Get(ctx, ManagerServiceAccount, metav1.GetOptions{})
			}, func() error {
				return core.ServiceAccounts(v1alpha1.Namespace).Delete(ctx, ManagerServiceAccount, metav1.DeleteOptions{})
			})
		}); err != nil {
			return err
		}
		if nsIsOurs {
			if err := del("namespace/"+v1alpha1.Namespace, func() error {
				return core.Namespaces().Delete(ctx, v1alpha1.Namespace, metav1.DeleteOptions{})
			}); err != nil {
				return err
			}
		}
	}
	// The anchor last: with it go, through the member's garbage collector,
	// the manager's ServiceAccount and tokens and a namespace join made.
	background := metav1.DeletePropagationBackground
	if err := del("clusterrolebinding/"+ManagerClusterRoleBinding, func() error {
		return deleteIfOurs(ctx, fed, func() (metav1.Object, error) {
			return rbac.ClusterRoleBindings().Get(ctx, ManagerClusterRoleBinding, metav1.GetOptions{})
		}, func() error {
			return rbac.ClusterRoleBindings().Delete(ctx, ManagerClusterRoleBinding, metav1.DeleteOptions{PropagationPolicy: &background})
		})
	}); err != nil {
		return err
	}
	for _, what := range GrantOf(u.Cluster).objects() {
		res.Removed = append(res.Removed, what+" (by the garbage collector)")
	}
	if u.Member == nil {
		res.Removed = append(res.Removed, "serviceaccount/"+ManagerServiceAccount+" (by the garbage collector)")
		if nsIsOurs {
			res.Removed = append(res.Removed, "namespace/"+v1alpha1.Namespace+" (by the garbage collector)")
		}
	}
	return nil
}

// deleteIfOurs deletes an object only if join made it for this federation;
// anything else counts as not there.
func deleteIfOurs(ctx context.Context, fed string, get func() (metav1.Object, error), del func() error) error {
	obj, err := get()
	if err != nil {
		return err
	}
	if !isOurs(obj) || obj.GetLabels()[v1alpha1.LabelFederation] != fed {
		// Someone else's, or another federation's: leave it alone, as if
		// it were not there.
		return apierrors.NewNotFound(schema.GroupResource{}, obj.GetName())
	}
	return del()
}

// leftovers lists what kfed made in a member it could not clean, as far as
// the host knows it.
func (u *Unjoin) leftovers(ctx context.Context) []string {
	left := []string{
		"configmap/" + MembershipConfigMap,
		"clusterrolebinding/" + ManagerClusterRoleBinding,
		"clusterrolebinding/" + DNSReaderClusterRoleBinding,
		"clusterrole/" + DNSReaderClusterRole,
		"rolebinding/" + DNSReaderTokenRole + " in " + v1alpha1.Namespace,
		"role/" + DNSReaderTokenRole + " in " + v1alpha1.Namespace,
	}
	left = append(left, GrantOf(u.Cluster).objects()...)
	left = append(left,
		"serviceaccount/"+ManagerServiceAccount,
		"serviceaccount/"+DNSReaderServiceAccount,
	)
	for _, id := range Identities() {
		if _, name, err := u.Host.MemberConfig(ctx, u.Cluster, id); err == nil && name != "" {
			left = append(left, "secret/"+name)
		}
	}
	left = append(left,
		"namespace/"+v1alpha1.Namespace+" (if join created it)",
		fmt.Sprintf("every object kfed distributed, labelled %s=%s", v1alpha1.LabelFederation, u.Cluster.Spec.Federation))
	return left
}

// cleanHost deletes the member's credentials and its Cluster. The DNS
// reader's credential is not the Cluster's to take along, so it is found by
// name and by labels, which also finds one that a half-done join left.
func (u *Unjoin) cleanHost(ctx context.Context, res *UnjoinResult) error {
	var errs []error
	secrets, err := u.Host.CredentialSecrets(ctx, u.Cluster)
	if err != nil {
		errs = append(errs, fmt.Errorf("finding the credentials of cluster %q in the host: %w", u.Cluster.Name, err))
	}
	// `kubectl fed dns install --all-clusters` gave the member's coredns-fed
	// a token of the host's coredns-fed ServiceAccount, bound to an anchor
	// (or, from older installs, in a token Secret): revoke it.
	for _, typ := range []corev1.SecretType{store.SecretTypeTokenAnchor, corev1.SecretTypeServiceAccountToken} {
		tokens, err := u.Host.Kube.CoreV1().Secrets(u.Host.Namespace).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(labels.Set{
				v1alpha1.LabelFederation: u.Cluster.Spec.Federation,
				v1alpha1.LabelCluster:    u.Cluster.Name,
				v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
			}).String(),
			FieldSelector: "type=" + string(typ),
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("finding the DNS tokens of cluster %q in the host: %w", u.Cluster.Name, err))
			continue
		}
		secrets = append(secrets, tokens.Items...)
	}
	for _, s := range secrets {
		err := u.Host.Kube.CoreV1().Secrets(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			res.Host = append(res.Host, "secret/"+s.Name)
		case !apierrors.IsNotFound(err):
			errs = append(errs, fmt.Errorf("deleting secret %s/%s in the host: %w", s.Namespace, s.Name, err))
		}
	}
	// The inventory forgets the member, so that no later delete or sync
	// waits on a cluster that is no longer in the federation.
	inv, err := inventory.New(u.Host, u.Cluster.Spec.Federation)
	if err == nil {
		res.Forgotten, err = inv.ForgetCluster(ctx, u.Cluster.Name, u.Progress)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("taking cluster %q out of the inventory: %w", u.Cluster.Name, err))
	}
	if len(errs) > 0 {
		// Without the Cluster, nothing would lead a second unjoin to what
		// is left.
		errs = append(errs, fmt.Errorf("cluster.kfed.dev/%s stays in the host: run the unjoin again to finish", u.Cluster.Name))
		return errors.Join(errs...)
	}
	err = u.Host.Clusters.Delete(ctx, u.Cluster.Name, metav1.DeleteOptions{})
	switch {
	case err == nil:
		res.Host = append(res.Host, "cluster.kfed.dev/"+u.Cluster.Name)
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("deleting cluster.kfed.dev/%s in the host: %w", u.Cluster.Name, err)
	}
	return nil
}
