package membership

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

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
