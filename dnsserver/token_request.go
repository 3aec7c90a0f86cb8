package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/kube"
	"github.com/kfed-dev/kfed/pkg/store"
)

// refreshTimeout bounds each request a refresh makes, to the member and to
// the host.
const refreshTimeout = 30 * time.Second

// minTokenLifetime is the shortest lifetime the API server issues.
const minTokenLifetime = 10 * time.Minute

// errRefreshRaced is a refresh whose write found the host's Secret changed
// since it was read: someone else renewed the token, and the watch brings
// theirs.
var errRefreshRaced = errors.New("the credential Secret changed meanwhile")

// fieldManager is the field manager of coredns-fed's writes.
const fieldManager = "coredns-fed"

// refresh replaces the token of cluster's DNS-reader credential Secret, as
// the cache holds it, with a new token of the same ServiceAccount, lifetime
// and anchor, requested with the current token; it proves the new token and
// writes it into the Secret if nobody changed the Secret meanwhile. The
// replaced token is not revoked (it shares the anchor); it expires on its
// own. Errors never hold a token.
func (r *tokenRefresher) refresh(ctx context.Context, cluster string, secret *corev1.Secret, old store.TokenInfo) (store.TokenInfo, error) {
	conn, err := store.CredentialOf(secret)
	if err != nil {
		return store.TokenInfo{}, err
	}
	cfg, err := readerConfig(conn)
	if err != nil {
		return store.TokenInfo{}, err
	}
	token, fresh, err := requestReaderToken(ctx, cfg, old)
	if err != nil {
		return store.TokenInfo{}, err
	}
	conn.Token = token
	cfg, err = readerConfig(conn)
	if err != nil {
		return store.TokenInfo{}, err
	}
	if err := proveReader(ctx, cfg); err != nil {
		return store.TokenInfo{}, fmt.Errorf("the new token does not work: %w", err)
	}

	data, err := conn.Kubeconfig(cluster, v1alpha1.IdentityDNSReader)
	if err != nil {
		return store.TokenInfo{}, err
	}
	updated := secret.DeepCopy()
	updated.Data[v1alpha1.SecretKeyKubeconfig] = data
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	maps.Copy(updated.Annotations, store.TokenAnnotations(old.BoundSecret, fresh))
	wctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	_, err = r.kube.CoreV1().Secrets(secret.Namespace).Update(wctx, updated, metav1.UpdateOptions{FieldManager: fieldManager})
	switch {
	case apierrors.IsConflict(err):
		return store.TokenInfo{}, errRefreshRaced
	case apierrors.IsForbidden(err):
		return store.TokenInfo{}, fmt.Errorf("writing the new token into secret %s/%s of the host was refused (%w): grant coredns-fed update on Secrets in %s, as deploy/coredns-fed/rbac.yaml does",
			secret.Namespace, secret.Name, err, secret.Namespace)
	case err != nil:
		return store.TokenInfo{}, fmt.Errorf("writing the new token into secret %s/%s of the host: %w", secret.Namespace, secret.Name, err)
	}
	return fresh, nil
}

// readerConfig is the client configuration of a member with a credential.
func readerConfig(conn store.Credential) (*rest.Config, error) {
	cfg, err := conn.RESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = memberConfig(cfg)
	cfg.Timeout = refreshTimeout
	return cfg, nil
}

// requestReaderToken asks the member, as the DNS reader, for a token of the
// ServiceAccount, lifetime and anchor of old. It returns the token and what
// it says about itself, which must be bound to the same anchor.
func requestReaderToken(ctx context.Context, cfg *rest.Config, old store.TokenInfo) (string, store.TokenInfo, error) {
	client, err := kube.NewForConfig(cfg)
	if err != nil {
		return "", store.TokenInfo{}, err
	}
	ns, name, _ := strings.Cut(old.ServiceAccount, "/")
	seconds := int64(max(old.Lifetime(), minTokenLifetime) / time.Second)
	req, err := client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &seconds,
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				APIVersion: "v1", Kind: "Secret", Name: old.BoundSecret, UID: types.UID(old.BoundSecretUID),
			},
		},
	}, metav1.CreateOptions{FieldManager: fieldManager})
	switch {
	case apierrors.IsForbidden(err):
		return "", store.TokenInfo{}, fmt.Errorf("the member refuses the DNS reader a token of serviceaccount %s (%w): join it again with this kubectl-fed, which grants the Role kfed-dns-reader-tokens in %s",
			old.ServiceAccount, err, ns)
	case err != nil:
		return "", store.TokenInfo{}, fmt.Errorf("requesting a token of serviceaccount %s bound to secret %s/%s: %w", old.ServiceAccount, ns, old.BoundSecret, err)
	}
	info, err := store.ParseToken(req.Status.Token)
	if err != nil || info.Legacy() {
		return "", store.TokenInfo{}, errors.New("the member issued a token that does not say when it expires")
	}
	if info.BoundSecret != old.BoundSecret || info.BoundSecretUID != old.BoundSecretUID {
		return "", store.TokenInfo{}, fmt.Errorf("the member bound the new token to secret %q, not to the anchor %q asked for", info.BoundSecret, old.BoundSecret)
	}
	return req.Status.Token, info, nil
}

// proveReader shows that a token works for what coredns-fed does with it:
// list EndpointSlices. A new token may take the member's caches a moment
// to honour, so refusals are retried for a few seconds.
func proveReader(ctx context.Context, cfg *rest.Config) error {
	client, err := kube.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var last error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		_, last = client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1})
		switch {
		case last == nil:
			return true, nil
		case apierrors.IsUnauthorized(last) || apierrors.IsForbidden(last):
			return false, nil
		}
		return false, last
	})
	if err != nil && last != nil {
		return last
	}
	return err
}
