package plugin

// Members' tokens of the host: each a token of the host's coredns-fed
// ServiceAccount, bound to an anchor Secret of its own in the host's
// kfed-system, made by dns install and replaced by it or by rotate.

import (
	"context"
	"fmt"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/kube"
	"github.com/kfed-dev/kfed/pkg/store"
)

// identityDNSHost labels the anchors of members' tokens of the host, and
// names them for rotate --identity.
const identityDNSHost = "dns-host"

// dnsHostLabels are the labels of what dns install creates for a member,
// in the member and in the host.
func dnsHostLabels(federation, cluster string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":    corednsFedName,
		"app.kubernetes.io/part-of": "kfed",
		v1alpha1.LabelFederation:    federation,
		v1alpha1.LabelCluster:       cluster,
		v1alpha1.LabelManagedBy:     v1alpha1.ManagedBy,
	}
}

// mintHostToken requests a token of the host's coredns-fed ServiceAccount
// sa for a member, bound to a new anchor in the host that sa owns. It
// returns the token and the anchor's name. If the token cannot be had, the
// anchor is deleted again.
func mintHostToken(ctx context.Context, host *kube.Client, sa *corev1.ServiceAccount, federation, cluster string, lifetime time.Duration) (string, string, error) {
	anchors := host.CoreV1().Secrets(sa.Namespace)
	anchorLabels := dnsHostLabels(federation, cluster)
	anchorLabels[v1alpha1.LabelIdentity] = identityDNSHost
	anchor, err := anchors.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    corednsFedName + "-anchor-" + cluster + "-",
			Labels:          anchorLabels,
			Annotations:     map[string]string{corev1.ServiceAccountNameKey: sa.Name},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ServiceAccount", Name: sa.Name, UID: sa.UID}},
		},
		Type: store.SecretTypeTokenAnchor,
	}, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil {
		return "", "", fmt.Errorf("creating the anchor of %s's token in the host's %s: %w", cluster, sa.Namespace, err)
	}
	seconds := int64(lifetime / time.Second)
	req, err := host.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &seconds,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Secret", Name: anchor.Name, UID: anchor.UID},
		},
	}, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil {
		_ = anchors.Delete(context.WithoutCancel(ctx), anchor.Name, metav1.DeleteOptions{})
		return "", "", fmt.Errorf("requesting a token of serviceaccount %s/%s in the host for %s: %w", sa.Namespace, sa.Name, cluster, err)
	}
	return req.Status.Token, anchor.Name, nil
}

// dropHostTokens deletes the member's anchors and legacy token Secret in
// the host but for those named in keep, revoking their tokens. It returns
// what it deleted; what cannot be deleted is left for the next install or
// rotation.
func dropHostTokens(ctx context.Context, host *kube.Client, cluster string, keep ...string) []string {
	secrets := host.CoreV1().Secrets(v1alpha1.Namespace)
	list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(labels.Set{
		v1alpha1.LabelCluster:    cluster,
		v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
		"app.kubernetes.io/name": corednsFedName,
	}).String()})
	if err != nil {
		return nil
	}
	var dropped []string
	for _, s := range list.Items {
		ours := s.Type == store.SecretTypeTokenAnchor || (s.Type == corev1.SecretTypeServiceAccountToken && s.Name == corednsFedTokenName(cluster))
		if !ours || slices.Contains(keep, s.Name) {
			continue
		}
		if secrets.Delete(ctx, s.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &s.UID}}) == nil {
			dropped = append(dropped, s.Name)
		}
	}
	return dropped
}
