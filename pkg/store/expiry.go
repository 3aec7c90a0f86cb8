package store

// What a credential's token says about itself: when it was issued, when it
// expires and what it is bound to. kfed's tokens come from the TokenRequest
// API, bound to an anchor Secret in the ServiceAccount's namespace; deleting
// the anchor revokes the token at once. Tokens of the older, Secret-based
// kind never expire.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// SecretTypeTokenAnchor is the type of the Secrets kfed's tokens are bound
// to. An anchor holds nothing secret: it exists so that deleting it revokes
// the one token bound to it.
const SecretTypeTokenAnchor corev1.SecretType = v1alpha1.GroupName + "/token-anchor"

// Annotations on a credential Secret about its token, written when the
// token is issued. They are for people and for `kubectl fed clusters`; the
// token's own claims are what counts.
const (
	// AnnotationTokenIssuedAt and AnnotationTokenExpiresAt hold RFC 3339
	// times; a legacy token has no expiry, and the annotation says "never".
	AnnotationTokenIssuedAt  = v1alpha1.GroupName + "/token-issued-at"
	AnnotationTokenExpiresAt = v1alpha1.GroupName + "/token-expires-at"
	// AnnotationPreviousTokenSecret names the anchor of the token a refresh
	// replaced. A refresh leaves that token working, since commands that
	// started before it may still be using it; the next refresh, a rotate or
	// a join deletes its anchor.
	AnnotationPreviousTokenSecret = v1alpha1.GroupName + "/previous-token-secret"
)

// Never is what AnnotationTokenExpiresAt says of a token that does not
// expire.
const Never = "never"

// TokenInfo is what a ServiceAccount token says about itself. It is read
// from the token's claims without verifying them: only the member's API
// server can, and it does on every request.
type TokenInfo struct {
	// IssuedAt and Expires are zero for a legacy token, which has neither.
	IssuedAt, Expires time.Time
	// BoundSecret and BoundSecretUID name the Secret the token is bound to,
	// if any.
	BoundSecret, BoundSecretUID string
	// ServiceAccount is namespace/name of the token's ServiceAccount, and
	// ServiceAccountUID its UID when the token says (bound tokens do).
	ServiceAccount, ServiceAccountUID string
}

// Legacy reports whether the token never expires: the kind a token Secret
// holds.
func (t TokenInfo) Legacy() bool { return t.Expires.IsZero() }

// Lifetime is how long the token was issued for.
func (t TokenInfo) Lifetime() time.Duration {
	if t.Legacy() || t.IssuedAt.IsZero() {
		return 0
	}
	return t.Expires.Sub(t.IssuedAt)
}

// RefreshDue reports whether a token should be replaced at now: it expires,
// and less than a third of its lifetime is left. A third leaves time for
// refreshes that fail (the member down, the operator without rights) to be
// retried by later commands before the token stops working.
func (t TokenInfo) RefreshDue(now time.Time) bool {
	if t.Legacy() {
		return false
	}
	life := t.Lifetime()
	if life <= 0 {
		return true
	}
	return t.Expires.Sub(now) < life/3
}

// errNotJWT is returned for a token that is not a JWT; it never quotes the
// token.
var errNotJWT = errors.New("the token is not a JWT")

// ParseToken reads a ServiceAccount token's claims, without verifying its
// signature. Errors never quote the token.
func ParseToken(token string) (TokenInfo, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return TokenInfo{}, errNotJWT
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return TokenInfo{}, errNotJWT
	}
	var claims struct {
		IssuedAt   *int64 `json:"iat"`
		Expires    *int64 `json:"exp"`
		Subject    string `json:"sub"`
		Kubernetes *struct {
			Secret *struct {
				Name string `json:"name"`
				UID  string `json:"uid"`
			} `json:"secret"`
			ServiceAccount *struct {
				UID string `json:"uid"`
			} `json:"serviceaccount"`
		} `json:"kubernetes.io"`
		// Legacy tokens name their ServiceAccount here instead.
		LegacyNamespace string `json:"kubernetes.io/serviceaccount/namespace"`
		LegacyName      string `json:"kubernetes.io/serviceaccount/service-account.name"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return TokenInfo{}, errNotJWT
	}
	var info TokenInfo
	if claims.IssuedAt != nil {
		info.IssuedAt = time.Unix(*claims.IssuedAt, 0).UTC()
	}
	if claims.Expires != nil {
		info.Expires = time.Unix(*claims.Expires, 0).UTC()
	}
	if k := claims.Kubernetes; k != nil {
		if k.Secret != nil {
			info.BoundSecret, info.BoundSecretUID = k.Secret.Name, k.Secret.UID
		}
		if k.ServiceAccount != nil {
			info.ServiceAccountUID = k.ServiceAccount.UID
		}
	}
	if sa, ok := strings.CutPrefix(claims.Subject, "system:serviceaccount:"); ok {
		info.ServiceAccount = strings.Replace(sa, ":", "/", 1)
	} else if claims.LegacyName != "" {
		info.ServiceAccount = claims.LegacyNamespace + "/" + claims.LegacyName
	}
	return info, nil
}

// TokenAnnotations returns the annotations of a credential Secret whose
// token is described by info and comes from the anchor (or legacy token
// Secret) named tokenSecret.
func TokenAnnotations(tokenSecret string, info TokenInfo) map[string]string {
	a := map[string]string{AnnotationTokenSecret: tokenSecret}
	if info.Legacy() {
		a[AnnotationTokenExpiresAt] = Never
		return a
	}
	a[AnnotationTokenIssuedAt] = info.IssuedAt.UTC().Format(time.RFC3339)
	a[AnnotationTokenExpiresAt] = info.Expires.UTC().Format(time.RFC3339)
	return a
}

// SecretToken returns the bearer token of a credential Secret and what it
// says about itself. A Secret whose kubeconfig cannot be used is an error
// from ConfigFromSecret; a token that is not a JWT is reported as legacy,
// since nothing can be known of its expiry.
func SecretToken(secret *corev1.Secret) (string, TokenInfo, error) {
	cfg, err := ConfigFromSecret(secret)
	if err != nil {
		return "", TokenInfo{}, err
	}
	info, err := ParseToken(cfg.BearerToken)
	if err != nil {
		return cfg.BearerToken, TokenInfo{}, nil
	}
	return cfg.BearerToken, info, nil
}

// CredentialOf returns the credential a credential Secret holds: its
// current context's server, CA, TLS server name, proxy and token, after
// ConfigFromSecret has checked that it holds nothing else. A renewal
// writes it back with a new token and everything else as it was.
func CredentialOf(secret *corev1.Secret) (Credential, error) {
	if _, err := ConfigFromSecret(secret); err != nil {
		return Credential{}, err
	}
	raw, err := clientcmd.Load(secret.Data[v1alpha1.SecretKeyKubeconfig])
	if err != nil {
		return Credential{}, fmt.Errorf("credential Secret %s/%s does not hold a usable kubeconfig: %w", secret.Namespace, secret.Name, ErrCredentialMissing)
	}
	kctx := raw.Contexts[raw.CurrentContext]
	cluster, user := raw.Clusters[kctx.Cluster], raw.AuthInfos[kctx.AuthInfo]
	return Credential{
		Server:        cluster.Server,
		CAData:        cluster.CertificateAuthorityData,
		TLSServerName: cluster.TLSServerName,
		ProxyURL:      cluster.ProxyURL,
		Token:         user.Token,
	}, nil
}

// CredentialToken returns a member's credential Secret for an identity and
// what its token says about itself.
func (s *Store) CredentialToken(ctx context.Context, c *v1alpha1.Cluster, identity string) (*corev1.Secret, TokenInfo, error) {
	name, ns := credentialName(c, identity), s.CredentialNamespace(identity)
	if name == "" {
		return nil, TokenInfo{}, fmt.Errorf("cluster %q names no %s credential Secret: %w", c.Name, identity, ErrCredentialMissing)
	}
	secret, err := s.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, TokenInfo{}, fmt.Errorf("the %s credential of cluster %q, Secret %s/%s, is missing: %w", identity, c.Name, ns, name, ErrCredentialMissing)
	}
	if err != nil {
		return nil, TokenInfo{}, fmt.Errorf("reading secret %s/%s in the host: %w", ns, name, err)
	}
	_, info, err := SecretToken(secret)
	if err != nil {
		return nil, TokenInfo{}, err
	}
	return secret, info, nil
}
