package membership

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

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
