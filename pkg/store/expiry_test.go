package store

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// jwt makes an unsigned token with the given claims; ParseToken does not
// verify signatures, and the tests need none.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + enc(body) + "." + enc([]byte("signature"))
}

func TestParseTokenBound(t *testing.T) {
	iat := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	tok := jwt(t, map[string]any{
		"iss": "https://kubernetes.default.svc", "sub": "system:serviceaccount:kfed-system:kfed-manager",
		"iat": iat.Unix(), "nbf": iat.Unix(), "exp": iat.Add(30 * 24 * time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      "kfed-system",
			"serviceaccount": map[string]any{"name": "kfed-manager", "uid": "sa-uid"},
			"secret":         map[string]any{"name": "kfed-manager-anchor-x7k2p", "uid": "anchor-uid"},
		},
	})
	got, err := ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := TokenInfo{
		IssuedAt: iat, Expires: iat.Add(30 * 24 * time.Hour),
		BoundSecret: "kfed-manager-anchor-x7k2p", BoundSecretUID: "anchor-uid",
		ServiceAccount: "kfed-system/kfed-manager", ServiceAccountUID: "sa-uid",
	}
	if got != want {
		t.Errorf("ParseToken = %+v, want %+v", got, want)
	}
	if got.Legacy() || got.Lifetime() != 30*24*time.Hour {
		t.Errorf("Legacy() = %v, Lifetime() = %s; want an expiring token of 720h", got.Legacy(), got.Lifetime())
	}
}

func TestParseTokenLegacy(t *testing.T) {
	// What the token controller puts in a kubernetes.io/service-account-token
	// Secret: no iat, no exp.
	tok := jwt(t, map[string]any{
		"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:kfed-system:kfed-dns-reader",
		"kubernetes.io/serviceaccount/namespace":            "kfed-system",
		"kubernetes.io/serviceaccount/service-account.name": "kfed-dns-reader",
		"kubernetes.io/serviceaccount/secret.name":          "kfed-dns-reader-token-abcde",
	})
	got, err := ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Legacy() || got.RefreshDue(time.Now()) || got.ServiceAccount != "kfed-system/kfed-dns-reader" {
		t.Errorf("ParseToken = %+v: want a legacy token of kfed-system/kfed-dns-reader, never due", got)
	}
	if a := TokenAnnotations("kfed-dns-reader-token-abcde", got); a[AnnotationTokenExpiresAt] != Never || a[AnnotationTokenIssuedAt] != "" {
		t.Errorf("TokenAnnotations = %v, want expires-at never and no issued-at", a)
	}
}

func TestParseTokenRefusesWithoutQuoting(t *testing.T) {
	secret := "s3cr3t-not-a-jwt-value"
	for _, tok := range []string{secret, secret + ".x.y", "a." + base64.RawURLEncoding.EncodeToString([]byte(secret)) + ".c"} {
		_, err := ParseToken(tok)
		if err == nil {
			t.Errorf("ParseToken accepted a token that is not a JWT")
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error quotes the token: %v", err)
		}
	}
}

func TestRefreshDue(t *testing.T) {
	iat := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	month := TokenInfo{IssuedAt: iat, Expires: iat.Add(30 * 24 * time.Hour)}
	short := TokenInfo{IssuedAt: iat, Expires: iat.Add(10 * time.Minute)}
	for _, tc := range []struct {
		name string
		info TokenInfo
		at   time.Time
		want bool
	}{
		{"fresh", month, iat.Add(time.Hour), false},
		{"two thirds gone, less a minute", month, iat.Add(20*24*time.Hour - time.Minute), false},
		{"two thirds gone, and a minute", month, iat.Add(20*24*time.Hour + time.Minute), true},
		{"expired", month, iat.Add(31 * 24 * time.Hour), true},
		{"10m token after 6m", short, iat.Add(6 * time.Minute), false},
		{"10m token after 7m", short, iat.Add(7 * time.Minute), true},
		{"legacy", TokenInfo{}, iat, false},
		{"no iat", TokenInfo{Expires: iat}, iat.Add(-time.Hour), true},
	} {
		if got := tc.info.RefreshDue(tc.at); got != tc.want {
			t.Errorf("%s: RefreshDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTokenAnnotations(t *testing.T) {
	iat := time.Date(2026, 11, 1, 8, 0, 0, 0, time.FixedZone("x", 3600))
	a := TokenAnnotations("kfed-manager-anchor-abc", TokenInfo{IssuedAt: iat, Expires: iat.Add(time.Hour)})
	want := map[string]string{
		AnnotationTokenSecret:    "kfed-manager-anchor-abc",
		AnnotationTokenIssuedAt:  "2026-11-01T07:00:00Z",
		AnnotationTokenExpiresAt: "2026-11-01T08:00:00Z",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("%s = %q, want %q", k, a[k], v)
		}
	}
}
