package membership

// kfed's tokens: minted with the TokenRequest API, each bound to an anchor
// Secret of its own in the member's kfed-system and expiring. Deleting the
// anchor revokes the token: the API server checks the anchor's UID on every
// request, though it may go on accepting a token that authenticated in the
// last 10 s from its cache. Tokens of the older kind, from token Secrets that the
// member's token controller fills and that never expire, are replaced
// whenever join or a renewal finds one.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// DefaultTokenLifetime is how long the tokens kfed mints last unless told
// otherwise. Commands refresh a token once less than a third of it is left,
// so a federation that some kubectl fed command reaches at least every ten
// days never sees one expire.
const DefaultTokenLifetime = 30 * 24 * time.Hour

// MinTokenLifetime is the shortest lifetime the API server issues.
const MinTokenLifetime = 10 * time.Minute

// token is an identity's token and where it comes from.
type token struct {
	// secret is the token's anchor in the member's kfed-system (or, for a
	// legacy token, its token Secret).
	secret string
	value  string
	info   store.TokenInfo
}

// mintToken issues a token of sa's identity for lifetime, bound to a new
// anchor Secret owned by sa (so that the garbage collector takes the
// anchors with their ServiceAccount). If the token cannot be had, the
// anchor is deleted again.
func mintToken(ctx context.Context, kube kubernetes.Interface, fed, identity string, sa *corev1.ServiceAccount, lifetime time.Duration) (token, error) {
	secrets := kube.CoreV1().Secrets(sa.Namespace)
	anchor, err := secrets.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    sa.Name + "-anchor-",
			Namespace:       sa.Namespace,
			Labels:          identityLabels(fed, identity),
			Annotations:     map[string]string{corev1.ServiceAccountNameKey: sa.Name},
			OwnerReferences: []metav1.OwnerReference{serviceAccountRef(sa)},
		},
		Type: store.SecretTypeTokenAnchor,
	}, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		return token{}, fmt.Errorf("creating the anchor of a new %s token in the member's %s: %w", identity, sa.Namespace, err)
	}
	seconds := int64(lifetime / time.Second)
	req, err := kube.CoreV1().ServiceAccounts(sa.Namespace).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			ExpirationSeconds: &seconds,
			BoundObjectRef: &authenticationv1.BoundObjectReference{
				APIVersion: "v1", Kind: "Secret", Name: anchor.Name, UID: anchor.UID,
			},
		},
	}, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
	if err != nil {
		_ = secrets.Delete(context.WithoutCancel(ctx), anchor.Name, metav1.DeleteOptions{})
		return token{}, fmt.Errorf("requesting a %s token of serviceaccount %s/%s in the member: %w", identity, sa.Namespace, sa.Name, err)
	}
	info, err := store.ParseToken(req.Status.Token)
	if err != nil || info.Legacy() {
		// The API server's answer says when it expires, if the token
		// itself does not.
		info = store.TokenInfo{IssuedAt: time.Now().UTC().Truncate(time.Second), Expires: req.Status.ExpirationTimestamp.UTC(),
			BoundSecret: anchor.Name, BoundSecretUID: string(anchor.UID)}
	}
	return token{secret: anchor.Name, value: req.Status.Token, info: info}, nil
}

// ensureToken makes sure the identity has a working token: the one the host
// already holds, if it is a bound token that still works, is not due for a
// refresh, and no rotation was asked for; or a new one.
func (r *joinRun) ensureToken(ctx context.Context, identity string, sa *corev1.ServiceAccount) error {
	if r.existing != nil && !r.Rotate && !r.takeover {
		if tok, ok := r.currentToken(ctx, identity, sa); ok {
			r.tokens[identity] = tok
			return nil
		}
	}
	tok, err := mintToken(ctx, r.member, r.fed, identity, sa, r.tokenLifetime())
	if err != nil {
		return err
	}
	secrets := r.member.CoreV1().Secrets(v1alpha1.Namespace)
	r.j.add("member", "secret/"+tok.secret, func(ctx context.Context) error {
		return secrets.Delete(ctx, tok.secret, metav1.DeleteOptions{})
	})
	if err := proveToken(ctx, r.Member.Connection, identity, tok.value); err != nil {
		return err
	}
	r.tokens[identity] = tok
	return nil
}

// tokenLifetime is the lifetime asked for, or the default.
func (r *joinRun) tokenLifetime() time.Duration {
	if r.TokenLifetime > 0 {
		return r.TokenLifetime
	}
	return DefaultTokenLifetime
}

// currentToken returns the identity's token the host holds, if it is bound
// to an anchor that still exists, belongs to the identity's current
// ServiceAccount, was issued for the lifetime asked for (when one was),
// is not due for a refresh, and works. A legacy token is never kept.
func (r *joinRun) currentToken(ctx context.Context, identity string, sa *corev1.ServiceAccount) (token, bool) {
	secret, info, err := r.Host.CredentialToken(ctx, r.existing, identity)
	if err != nil || info.Legacy() || info.RefreshDue(time.Now()) || info.ServiceAccountUID != string(sa.UID) {
		return token{}, false
	}
	if d := r.TokenLifetime; d > 0 && (info.Lifetime()-d > time.Minute || d-info.Lifetime() > time.Minute) {
		return token{}, false
	}
	name := secret.Annotations[store.AnnotationTokenSecret]
	if name == "" || name != info.BoundSecret {
		return token{}, false
	}
	anchor, err := r.member.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil || string(anchor.UID) != info.BoundSecretUID {
		return token{}, false
	}
	value, _, err := store.SecretToken(secret)
	if err != nil || proveToken(ctx, r.Member.Connection, identity, value) != nil {
		return token{}, false
	}
	return token{secret: name, value: value, info: info}, true
}

// proveToken shows that a token works with real calls to the member that
// conn reaches: it authenticates as the identity, and the DNS reader can
// list EndpointSlices. The member's caches may take a moment to honour a
// new token and its bindings, so refusals are retried for a while.
func proveToken(ctx context.Context, conn store.Credential, identity, value string) error {
	conn.Token = value
	cfg, err := conn.RESTConfig()
	if err != nil {
		return err
	}
	cfg.Timeout = 15 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	want := "system:serviceaccount:" + v1alpha1.Namespace + ":" + serviceAccountFor(identity)
	var last error
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, proofWait, true, func(ctx context.Context) (bool, error) {
		last = proveOnce(ctx, client, identity, want)
		if last == nil {
			return true, nil
		}
		if apierrors.IsUnauthorized(last) || apierrors.IsForbidden(last) {
			return false, nil
		}
		return false, last
	})
	if err != nil {
		if last == nil {
			last = err
		}
		return fmt.Errorf("the new %s token does not work against %s: %w", identity, conn.Server, last)
	}
	return nil
}

func proveOnce(ctx context.Context, client kubernetes.Interface, identity, want string) error {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	if got := review.Status.UserInfo.Username; got != want {
		return fmt.Errorf("the token authenticates as %q, not %q", got, want)
	}
	if identity == v1alpha1.IdentityDNSReader {
		if _, err := client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			return err
		}
	}
	return nil
}

// commit deletes what the join superseded: the identities' legacy token
// Secrets, and their anchors other than those of the tokens now in use,
// which revokes those tokens. The join has succeeded by then, so failures
// are warnings, naming what to delete by hand.
func (r *joinRun) commit(ctx context.Context) {
	inUse := map[string]bool{}
	for _, t := range r.tokens {
		inUse[t.secret] = true
	}
	secrets := r.member.CoreV1().Secrets(v1alpha1.Namespace)
	var failed []string
	for _, typ := range []corev1.SecretType{corev1.SecretTypeServiceAccountToken, store.SecretTypeTokenAnchor} {
		list, err := secrets.List(ctx, metav1.ListOptions{FieldSelector: "type=" + string(typ)})
		if err != nil {
			r.Warnf("could not list the member's old tokens (%s Secrets), which may still work: %v", typ, err)
			continue
		}
		for _, s := range list.Items {
			sa := s.Annotations[corev1.ServiceAccountNameKey]
			if inUse[s.Name] || (sa != ManagerServiceAccount && sa != DNSReaderServiceAccount) {
				continue
			}
			if typ == store.SecretTypeTokenAnchor && !isOurs(&s) {
				continue
			}
			if err := secrets.Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				failed = append(failed, s.Name)
			}
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		r.Warnf("old tokens still work until you delete their Secrets: kubectl --context %s -n %s delete secret %s",
			r.Member.Context, v1alpha1.Namespace, strings.Join(failed, " "))
	}
}

// TokenRole is the Role, in the member's kfed-system, that lets the manager
// renew its own token and the DNS reader's: read the two ServiceAccounts
// (for the anchors' owner references), request their tokens, and create
// and delete anchor Secrets. RBAC cannot limit creation to a name, nor
// deletion to names that are random, so the manager may create and delete
// any Secret in kfed-system, but it may not read one.
const TokenRole = "kfed-manager-tokens"

// TokenRules are what TokenRole allows.
func TokenRules() []rbacv1.PolicyRule {
	sas := []string{ManagerServiceAccount, DNSReaderServiceAccount}
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: sas, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, ResourceNames: sas, Verbs: []string{"create"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "delete"}},
	}
}

// ensureTokenRole grants the manager TokenRole, with a RoleBinding of the
// same name. Both are owned by the membership's anchor, so that unjoin's
// deleting it takes them along.
func (r *joinRun) ensureTokenRole(ctx context.Context, anchor *rbacv1.ClusterRoleBinding) error {
	return r.ensureOwnedRole(ctx, anchor, TokenRole, v1alpha1.IdentityManager, ManagerServiceAccount, TokenRules())
}

// ensureObject creates want, or brings an object of kfed's with its name
// in line with it (labels, owners and what same compares), recording how
// to undo either. One that kfed did not make is refused.
func ensureObject[T interface {
	metav1.Object
	DeepCopy() T
}](ctx context.Context, r *joinRun, what string, want T,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
	del func(context.Context, string, metav1.DeleteOptions) error,
	same func(cur, want T) bool, set func(cur, want T),
) error {
	name := want.GetName()
	cur, err := get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
			return fmt.Errorf("creating %s in the member: %w", what, err)
		}
		r.j.add("member", what, func(ctx context.Context) error { return del(ctx, name, metav1.DeleteOptions{}) })
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s in the member: %w", what, err)
	}
	if !isOurs(cur) {
		return fmt.Errorf("%s already exists in the member's %s and was not made by kubectl-fed (no %s=%s label): remove or rename it first",
			what, v1alpha1.Namespace, v1alpha1.LabelManagedBy, v1alpha1.ManagedBy)
	}
	if same(cur, want) && hasLabels(cur, want.GetLabels()) && apiequality.Semantic.DeepEqual(cur.GetOwnerReferences(), want.GetOwnerReferences()) {
		return nil
	}
	old := cur.DeepCopy()
	set(cur, want)
	withLabels(cur, want.GetLabels())
	cur.SetOwnerReferences(want.GetOwnerReferences())
	if _, err := update(ctx, cur, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return fmt.Errorf("updating %s in the member: %w", what, err)
	}
	r.j.add("member", what+" (repaired)", func(ctx context.Context) error {
		c, err := get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		set(c, old)
		c.SetLabels(old.GetLabels())
		c.SetOwnerReferences(old.GetOwnerReferences())
		_, err = update(ctx, c, metav1.UpdateOptions{})
		return err
	})
	return nil
}
