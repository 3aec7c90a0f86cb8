package membership

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// Renew replaces one identity's token of a member with a new one, bound to
// a new anchor. It works with the manager identity the host holds, so no
// member context is needed: a refresh before expiry and `kubectl fed
// rotate` are both a Renew.
//
// The steps are ordered so that an interruption anywhere leaves a working
// credential in the host and a second run converges: mint and prove the
// new token, swap it into the host's Secret (only if nobody changed the
// Secret meanwhile), and only then delete old anchors.
type Renew struct {
	Host     *store.Store
	Cluster  *v1alpha1.Cluster
	Identity string
	// Lifetime is the new token's; 0 keeps the current token's lifetime,
	// or DefaultTokenLifetime in place of a legacy token.
	Lifetime time.Duration
	// Revoke deletes the old token's anchor (or legacy token Secret) once
	// the new token is in place, which revokes it: a rotation. Without it,
	// as in a refresh, the old token works until it expires or the next
	// renewal, since commands that started before may be using it.
	Revoke bool
	// Timeout bounds each request to the member; 0 means 30s.
	Timeout time.Duration
	// IfDue renews only if the credential, as Run reads it, is still due
	// for a refresh: a command that found it due may be late, another
	// command having renewed it meanwhile, and the fresh token must not be
	// renewed again (nor its predecessor forgotten as the previous one).
	IfDue bool
}

// RenewResult says what a Renew did.
type RenewResult struct {
	// Old and New describe the replaced token and its successor.
	Old, New store.TokenInfo
	// Revoked lists the Secrets deleted in the member's kfed-system, whose
	// tokens stopped working.
	Revoked []string
	// Left lists the Secrets that could not be deleted: their tokens work
	// until they expire, or for ever if legacy.
	Left []string
	// Raced is set when another command renewed the credential meanwhile;
	// its token is kept and this one's anchor deleted.
	Raced bool
}

// Run renews the token.
func (r *Renew) Run(ctx context.Context) (*RenewResult, error) {
	secret, old, err := r.Host.CredentialToken(ctx, r.Cluster, r.Identity)
	if err != nil {
		return nil, err
	}
	if r.IfDue && !old.RefreshDue(time.Now()) {
		return &RenewResult{Old: old, New: old, Raced: true}, nil
	}
	conn, err := store.CredentialOf(secret)
	if err != nil {
		return nil, err
	}
	kube, err := r.managerClient(ctx)
	if err != nil {
		return nil, err
	}
	saName := serviceAccountFor(r.Identity)
	sa, err := kube.CoreV1().ServiceAccounts(v1alpha1.Namespace).Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading serviceaccount %s/%s in cluster %q with the manager identity: %w", v1alpha1.Namespace, saName, r.Cluster.Name, err)
	}
	lifetime := r.Lifetime
	if lifetime == 0 {
		lifetime = old.Lifetime().Round(time.Minute)
	}
	if lifetime < MinTokenLifetime {
		lifetime = DefaultTokenLifetime
	}
	tok, err := mintToken(ctx, kube, r.Cluster.Spec.Federation, r.Identity, sa, lifetime)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", r.Cluster.Name, err)
	}
	anchors := kube.CoreV1().Secrets(v1alpha1.Namespace)
	dropNew := func() { _ = anchors.Delete(context.WithoutCancel(ctx), tok.secret, metav1.DeleteOptions{}) }
	if err := proveToken(ctx, conn, r.Identity, tok.value); err != nil {
		dropNew()
		return nil, fmt.Errorf("cluster %q: %w", r.Cluster.Name, err)
	}

	// The swap: the host's Secret as it was read, with the new token.
	conn.Token = tok.value
	data, err := conn.Kubeconfig(r.Cluster.Name, r.Identity)
	if err != nil {
		dropNew()
		return nil, err
	}
	oldName := secret.Annotations[store.AnnotationTokenSecret]
	previous := secret.Annotations[store.AnnotationPreviousTokenSecret]
	updated := secret.DeepCopy()
	updated.Data[v1alpha1.SecretKeyKubeconfig] = data
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	maps.Copy(updated.Annotations, store.TokenAnnotations(tok.secret, tok.info))
	if r.Revoke || oldName == "" {
		delete(updated.Annotations, store.AnnotationPreviousTokenSecret)
	} else {
		updated.Annotations[store.AnnotationPreviousTokenSecret] = oldName
	}
	res := &RenewResult{Old: old, New: tok.info}
	hostSecrets := r.Host.Kube.CoreV1().Secrets(secret.Namespace)
	if _, err := hostSecrets.Update(ctx, updated, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		dropNew()
		if apierrors.IsConflict(err) {
			res.Raced, res.New = true, store.TokenInfo{}
			return res, nil
		}
		return nil, fmt.Errorf("saving the new %s token of cluster %q in secret %s/%s of the host: %w; the old token stays in use",
			r.Identity, r.Cluster.Name, secret.Namespace, secret.Name, err)
	}

	// The token the previous renewal replaced goes now; the one just
	// replaced goes too if this is a rotation. That one may be the token
	// kube is using, so it goes last.
	stale := []string{}
	if previous != "" && previous != tok.secret && previous != oldName {
		stale = append(stale, previous)
	}
	if r.Revoke && oldName != "" {
		stale = append(stale, oldName)
	}
	for _, name := range stale {
		if !isTokenSecretName(name) {
			res.Left = append(res.Left, name)
			continue
		}
		err := anchors.Delete(ctx, name, metav1.DeleteOptions{})
		switch {
		case err == nil:
			res.Revoked = append(res.Revoked, name)
		case apierrors.IsNotFound(err):
		default:
			res.Left = append(res.Left, name)
		}
	}
	return res, nil
}

// managerClient is a client of the member with the manager identity.
func (r *Renew) managerClient(ctx context.Context) (kubernetes.Interface, error) {
	cfg, _, err := r.Host.MemberConfig(ctx, r.Cluster, v1alpha1.IdentityManager)
	if err != nil {
		return nil, err
	}
	cfg.Timeout = r.Timeout
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return kubernetes.NewForConfig(cfg)
}

// isTokenSecretName reports whether name is one kfed gives anchors and
// legacy token Secrets of its identities. A name read from an annotation
// that is not one of these is never deleted.
func isTokenSecretName(name string) bool {
	for _, sa := range []string{ManagerServiceAccount, DNSReaderServiceAccount} {
		if strings.HasPrefix(name, sa+"-anchor-") || strings.HasPrefix(name, sa+"-token-") {
			return true
		}
	}
	return false
}
