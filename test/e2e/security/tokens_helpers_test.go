//go:build e2e

package security

import (
	"context"
	"crypto"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// tokHost is the host's store, as the user's admin context reaches it.
func tokHost(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.New(testLab.Cluster(hostCtx).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tokCredential returns the host's credential Secret of a member's
// identity, its token and what the token says of itself.
func tokCredential(t *testing.T, cluster, identity string) (*corev1.Secret, string, store.TokenInfo) {
	t.Helper()
	s := tokHost(t)
	secret, err := s.Kube.CoreV1().Secrets(s.CredentialNamespace(identity)).Get(t.Context(), store.CredentialSecretName(cluster, identity), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	value, info, err := store.SecretToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	return secret, value, info
}

// tokClient is a client of a lab cluster authenticated by token alone.
func tokClient(t *testing.T, cluster, token string) kubernetes.Interface {
	t.Helper()
	c := testLab.Cluster(cluster)
	cfg := &rest.Config{Host: c.Server, BearerToken: token, Timeout: 10 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData}}
	return kubernetes.NewForConfigOrDie(cfg)
}

// tokWhoami asks the member who a token is.
func tokWhoami(ctx context.Context, t *testing.T, cluster, token string) (authenticationv1.UserInfo, error) {
	r, err := tokClient(t, cluster, token).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	return r.Status.UserInfo, nil
}

// tokWaitRefused waits until the member answers a token with 401. The API
// server sees a deleted anchor within moments, but it caches a token that
// authenticated for 10 s (kube-apiserver's TokenSuccessCacheTTL), so a
// revoked token may work for that long after its last use; the wait allows
// that and a little more, and no longer.
func tokWaitRefused(t *testing.T, cluster, what, token string) {
	t.Helper()
	begin := time.Now()
	framework.Eventually(t, 13*time.Second, 100*time.Millisecond, what+" refused by "+cluster, func(ctx context.Context) error {
		_, err := tokWhoami(ctx, t, cluster, token)
		if apierrors.IsUnauthorized(err) {
			return nil
		}
		return fmt.Errorf("the token still gets %v", err)
	})
	t.Logf("%s refused %s after %s", cluster, what, time.Since(begin).Round(10*time.Millisecond))
}

// tokKubeconfig writes a kubeconfig that reaches a lab cluster with token
// alone, for the real kubectl.
func tokKubeconfig(t *testing.T, cluster, token string) string {
	t.Helper()
	c := testLab.Cluster(cluster)
	cred := store.Credential{Server: c.Server, CAData: c.CAData, Token: token}
	data, err := cred.Kubeconfig(cluster, "token")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tokSwap writes a token into a credential Secret of the host, as join or
// a renewal would have, with the annotations they write.
func tokSwap(t *testing.T, secret *corev1.Secret, token, tokenSecret string, info store.TokenInfo) {
	t.Helper()
	conn, err := store.CredentialOf(secret)
	if err != nil {
		t.Fatal(err)
	}
	conn.Token = token
	data, err := conn.Kubeconfig(secret.Labels[v1alpha1.LabelCluster], secret.Labels[v1alpha1.LabelIdentity])
	if err != nil {
		t.Fatal(err)
	}
	s := tokHost(t)
	cur, err := s.Kube.CoreV1().Secrets(secret.Namespace).Get(t.Context(), secret.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur.Data[v1alpha1.SecretKeyKubeconfig] = data
	cur.Annotations = store.TokenAnnotations(tokenSecret, info)
	if _, err := s.Kube.CoreV1().Secrets(secret.Namespace).Update(t.Context(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// tokDeleteAnchor deletes an anchor in eur that a test took out of the
// host's hands.
func tokDeleteAnchor(t *testing.T, name string) {
	err := testLab.Cluster("eur").Client().CoreV1().Secrets(v1alpha1.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting anchor %s: %v", name, err)
	}
}

// tokResign returns token with its claims changed by edit, signed with the
// cluster's own service-account key: a token its API server accepts as one
// it issued.
func tokResign(t *testing.T, cluster, token string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(testLab.Cluster(cluster).Dir, "sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	signed := enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(body)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(cryptorand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc(sig)
}

// tokAge puts into eur's manager credential Secret a genuine token near
// its expiry: the one current, re-issued as if 50 minutes ago for an hour,
// signed with eur's own service-account key and bound to a new anchor. It
// returns the token and its anchor's name.
func tokAge(t *testing.T, secret *corev1.Secret, current string) (string, string) {
	t.Helper()
	return tokAgeAs(t, v1alpha1.IdentityManager, membership.ManagerServiceAccount, secret, current)
}

// tokAgeAs is tokAge for the identity whose ServiceAccount is sa.
func tokAgeAs(t *testing.T, identity, sa string, secret *corev1.Secret, current string) (string, string) {
	t.Helper()
	eur := testLab.Cluster("eur").Client()
	anchor, err := eur.CoreV1().Secrets(v1alpha1.Namespace).Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: sa + "-anchor-",
			Labels:       map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedBy, v1alpha1.LabelComponent: v1alpha1.ComponentMembership, v1alpha1.LabelFederation: "magicring", v1alpha1.LabelIdentity: identity},
			Annotations:  map[string]string{corev1.ServiceAccountNameKey: sa},
		},
		Type: store.SecretTypeTokenAnchor,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now().Add(-50 * time.Minute).Truncate(time.Second)
	aged := tokResign(t, "eur", current, func(c map[string]any) {
		c["iat"], c["nbf"], c["exp"] = issued.Unix(), issued.Unix(), issued.Add(time.Hour).Unix()
		c["jti"] = string(uuid.NewUUID())
		k := c["kubernetes.io"].(map[string]any)
		k["secret"] = map[string]any{"name": anchor.Name, "uid": string(anchor.UID)}
	})
	who, err := tokWhoami(t.Context(), t, "eur", aged)
	if err != nil {
		t.Fatalf("eur does not accept the aged token it would have issued: %v", err)
	}
	t.Logf("eur accepts the aged token as %s", who.Username)
	info, err := store.ParseToken(aged)
	if err != nil {
		t.Fatal(err)
	}
	tokSwap(t, secret, aged, anchor.Name, info)
	return aged, anchor.Name
}
