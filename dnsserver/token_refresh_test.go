package dnsserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// refreshTestToken is an unsigned token with the claims given; the
// decision reads claims only.
func refreshTestToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(body) + ".sig"
}

// refreshTestSecret is a DNS-reader credential Secret holding token.
func refreshTestSecret(t *testing.T, token string) *corev1.Secret {
	t.Helper()
	data, err := store.Credential{Server: "https://127.0.0.1:6443", CAData: []byte("ca"), Token: token}.Kubeconfig("eur", v1alpha1.IdentityDNSReader)
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.DNSNamespace, Name: "eur-dns-reader-kubeconfig"},
		Data:       map[string][]byte{v1alpha1.SecretKeyKubeconfig: data},
	}
}

// TestReaderTokenDue decides, for tokens of every kind, whether coredns-fed
// refreshes them: bound, expiring tokens once less than a third of their
// lifetime is left (expired ones included, which it still tries), and never
// legacy tokens, tokens bound to nothing, or those that do not say when they
// were issued or whose they are.
func TestReaderTokenDue(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	bound := func(issued time.Time, life time.Duration, edit func(map[string]any)) string {
		c := map[string]any{
			"iat": issued.Unix(), "exp": issued.Add(life).Unix(),
			"sub": "system:serviceaccount:kfed-system:kfed-dns-reader",
			"kubernetes.io": map[string]any{
				"namespace":      "kfed-system",
				"secret":         map[string]any{"name": "kfed-dns-reader-anchor-x7k2p", "uid": "5f0c6c1e-0000-4000-8000-000000000001"},
				"serviceaccount": map[string]any{"name": "kfed-dns-reader", "uid": "5f0c6c1e-0000-4000-8000-000000000002"},
			},
		}
		if edit != nil {
			edit(c)
		}
		return refreshTestToken(t, c)
	}
	month := 30 * 24 * time.Hour
	for _, tc := range []struct {
		name  string
		token string
		due   bool
	}{
		{"fresh", bound(now.Add(-time.Hour), month, nil), false},
		{"two thirds used, to the second", bound(now.Add(-20*24*time.Hour), month, nil), false},
		{"less than a third left", bound(now.Add(-20*24*time.Hour-time.Second), month, nil), true},
		{"ten minutes, three left", bound(now.Add(-7*time.Minute), 10*time.Minute, nil), true},
		{"ten minutes, four left", bound(now.Add(-6*time.Minute), 10*time.Minute, nil), false},
		{"ten minutes, seven left", bound(now.Add(-3*time.Minute), 10*time.Minute, nil), false},
		{"expired", bound(now.Add(-2*month), month, nil), true},
		{"legacy", refreshTestToken(t, map[string]any{
			"kubernetes.io/serviceaccount/namespace":            "kfed-system",
			"kubernetes.io/serviceaccount/service-account.name": "kfed-dns-reader",
		}), false},
		{"bound to nothing", bound(now.Add(-25*24*time.Hour), month, func(c map[string]any) {
			delete(c["kubernetes.io"].(map[string]any), "secret")
		}), false},
		{"anchor without a UID", bound(now.Add(-25*24*time.Hour), month, func(c map[string]any) {
			c["kubernetes.io"].(map[string]any)["secret"] = map[string]any{"name": "kfed-dns-reader-anchor-x7k2p"}
		}), false},
		{"no issue time", bound(now.Add(-25*24*time.Hour), month, func(c map[string]any) { delete(c, "iat") }), false},
		{"no subject", bound(now.Add(-25*24*time.Hour), month, func(c map[string]any) { delete(c, "sub") }), false},
		{"not a JWT", "opaque-token", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, due := readerTokenDue(refreshTestSecret(t, tc.token), now)
			if due != tc.due {
				t.Errorf("due = %v, want %v (token %+v)", due, tc.due, info)
			}
		})
	}

	t.Run("a Secret coredns-fed refuses", func(t *testing.T) {
		s := refreshTestSecret(t, bound(now.Add(-25*24*time.Hour), month, nil))
		s.Data[v1alpha1.SecretKeyKubeconfig] = []byte("not: [a kubeconfig")
		if _, due := readerTokenDue(s, now); due {
			t.Error("a Secret that cannot be read is due")
		}
	})
}

// TestRefreshFailed checks the warning of a failed refresh: it names the
// cluster and the expiry, says when it is tried again or, once expired,
// what to run, and never holds the token.
func TestRefreshFailed(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	info := store.TokenInfo{IssuedAt: now.Add(-25 * time.Minute), Expires: now.Add(5 * time.Minute)}
	msg := refreshFailed("eur", info, now, 10*time.Minute, errors.New("connection refused"))
	for _, want := range []string{"cluster eur", "2026-11-30T09:05:00Z", "in 5m", "connection refused", "trying again within 11m"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the warning does not say %q: %s", want, msg)
		}
	}
	info.Expires = now.Add(-time.Minute)
	msg = refreshFailed("eur", info, now, 10*time.Minute, errors.New("401"))
	if !strings.Contains(msg, "expired at 2026-11-30T08:59:00Z") || !strings.Contains(msg, "kubectl fed rotate eur --identity dns-reader") {
		t.Errorf("the warning of an expired token does not say so and what to run: %s", msg)
	}
}
