//go:build e2e

package security

import (
	"context"
	"encoding/json"
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
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestTokensBoundAndExpiring checks what join left in the host: for every
// member and identity a token from the TokenRequest API, expiring in 30
// days, bound to an anchor Secret in the member that exists with the UID
// the token names; the real kubectl sees the token's credential ID; and
// kubectl fed clusters shows when each expires.
func TestTokensBoundAndExpiring(t *testing.T) {
	for _, m := range members {
		for _, id := range membership.Identities() {
			secret, value, info := tokCredential(t, m, id)
			what := fmt.Sprintf("the %s token of %s", id, m)
			if info.Legacy() {
				t.Errorf("%s never expires", what)
				continue
			}
			if d := info.Lifetime() - membership.DefaultTokenLifetime; d < -time.Minute || d > time.Minute {
				t.Errorf("%s lasts %s, want %s", what, info.Lifetime(), membership.DefaultTokenLifetime)
			}
			if got, want := secret.Annotations[store.AnnotationTokenExpiresAt], info.Expires.Format(time.RFC3339); got != want {
				t.Errorf("%s: annotation %s = %q, the token says %q", what, store.AnnotationTokenExpiresAt, got, want)
			}
			anchorName := secret.Annotations[store.AnnotationTokenSecret]
			if anchorName == "" || anchorName != info.BoundSecret {
				t.Errorf("%s is bound to %q, the host's Secret names %q", what, info.BoundSecret, anchorName)
				continue
			}
			anchor, err := testLab.Cluster(m).Client().CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), anchorName, metav1.GetOptions{})
			if err != nil {
				t.Errorf("%s: its anchor: %v", what, err)
				continue
			}
			if string(anchor.UID) != info.BoundSecretUID || anchor.Type != store.SecretTypeTokenAnchor || len(anchor.Data) != 0 {
				t.Errorf("%s: anchor %s has UID %s, type %s and %d keys; want UID %s, type %s, no data",
					what, anchorName, anchor.UID, anchor.Type, len(anchor.Data), info.BoundSecretUID, store.SecretTypeTokenAnchor)
			}
			if m != "eur" {
				continue
			}
			// The real kubectl, with that token alone: a bound token carries
			// a credential ID (its JWT ID); a legacy one does not.
			k := &framework.Kubectl{Path: kubectl.Path, Kubeconfig: tokKubeconfig(t, m, value)}
			res := k.Succeed(t, "auth", "whoami", "-o", "json")
			var review authenticationv1.SelfSubjectReview
			if err := json.Unmarshal([]byte(res.Stdout), &review); err != nil {
				t.Fatal(err)
			}
			wantUser := "system:serviceaccount:" + v1alpha1.Namespace + ":" + map[string]string{
				v1alpha1.IdentityManager: membership.ManagerServiceAccount, v1alpha1.IdentityDNSReader: membership.DNSReaderServiceAccount}[id]
			credID := review.Status.UserInfo.Extra["authentication.kubernetes.io/credential-id"]
			if review.Status.UserInfo.Username != wantUser || len(credID) != 1 || !strings.HasPrefix(credID[0], "JTI=") {
				t.Errorf("kubectl auth whoami with %s: %s with credential-id %v; want %s with a JTI", what, review.Status.UserInfo.Username, credID, wantUser)
			}
		}
	}

	res := kubectl.Succeed(t, "fed", "clusters", "--context", hostCtx, "-o", "wide")
	rows := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	header := strings.Fields(rows[0])
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("kubectl fed clusters -o wide has no %s column: %q", name, rows[0])
		return -1
	}
	tokens, mgr, rdr := col("TOKENS"), col("MANAGER-EXPIRES"), col("DNS-READER-EXPIRES")
	for _, row := range rows[1:] {
		f := strings.Fields(row)
		_, _, mi := tokCredential(t, f[0], v1alpha1.IdentityManager)
		_, _, ri := tokCredential(t, f[0], v1alpha1.IdentityDNSReader)
		if f[tokens] != "29d" && f[tokens] != "30d" {
			t.Errorf("%s: TOKENS %q, want 29d or 30d", f[0], f[tokens])
		}
		if f[mgr] != mi.Expires.Format(time.RFC3339) || f[rdr] != ri.Expires.Format(time.RFC3339) {
			t.Errorf("%s: expiries %s and %s, the tokens say %s and %s", f[0], f[mgr], f[rdr], mi.Expires.Format(time.RFC3339), ri.Expires.Format(time.RFC3339))
		}
	}
	if strings.Contains(res.Stderr, "rotate") {
		t.Errorf("clusters suggests a rotation of fresh tokens:\n%s", res.Stderr)
	}
}

// TestTokensRotate rotates eur's tokens: the old ones get 401 at once, the
// new ones work, their anchors replace the old, and apply still reaches
// eur.
func TestTokensRotate(t *testing.T) {
	_, oldManager, oldMI := tokCredential(t, "eur", v1alpha1.IdentityManager)
	_, oldReader, oldRI := tokCredential(t, "eur", v1alpha1.IdentityDNSReader)

	res := kubectl.Succeed(t, "fed", "rotate", "eur", "--context", hostCtx)
	for _, id := range membership.Identities() {
		if !strings.Contains(res.Stdout, "cluster eur: "+id+" token rotated") {
			t.Errorf("rotate does not report the %s token:\n%s", id, res.Stdout)
		}
	}
	tokWaitRefused(t, "eur", "the old manager token", oldManager)
	tokWaitRefused(t, "eur", "the old DNS reader token", oldReader)

	eur := testLab.Cluster("eur").Client()
	for _, old := range []store.TokenInfo{oldMI, oldRI} {
		if _, err := eur.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), old.BoundSecret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the old anchor %s: %v, want NotFound", old.BoundSecret, err)
		}
	}
	for _, id := range membership.Identities() {
		_, value, info := tokCredential(t, "eur", id)
		if info.Legacy() || info.BoundSecret == "" {
			t.Errorf("the new %s token is not bound and expiring: %+v", id, info)
		}
		if _, err := tokWhoami(t.Context(), t, "eur", value); err != nil {
			t.Errorf("the new %s token does not work: %v", id, err)
		}
	}

	// Apply works with the new manager token.
	name := "tok-rotated-" + rand.String(5)
	manifest := filepath.Join(t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte(fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: default
  annotations:
    kfed.dev/clusters: eur
data:
  k: v
`, name)), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "apply", "-f", manifest, "--context", hostCtx)
	defer kubectl.Run(context.Background(), "fed", "delete", "-f", manifest, "--context", hostCtx)
	if _, err := eur.CoreV1().ConfigMaps("default").Get(t.Context(), name, metav1.GetOptions{}); err != nil {
		t.Errorf("after the rotation apply did not reach eur: %v", err)
	}
}

// TestTokensRotateLegacy puts a never-expiring token, of the kind older
// joins made, into eur's manager credential: clusters shows "never" and
// says to rotate, and rotate replaces it and deletes its token Secret,
// which revokes it.
func TestTokensRotateLegacy(t *testing.T) {
	eur := testLab.Cluster("eur").Client()
	secrets := eur.CoreV1().Secrets(v1alpha1.Namespace)
	legacy, err := secrets.Create(t.Context(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: membership.ManagerServiceAccount + "-token-",
			Annotations:  map[string]string{corev1.ServiceAccountNameKey: membership.ManagerServiceAccount},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var value string
	framework.Eventually(t, 30*time.Second, 100*time.Millisecond, "the token controller to fill "+legacy.Name, func(ctx context.Context) error {
		s, err := secrets.Get(ctx, legacy.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if value = string(s.Data[corev1.ServiceAccountTokenKey]); value == "" {
			return fmt.Errorf("empty")
		}
		return nil
	})
	secret, _, _ := tokCredential(t, "eur", v1alpha1.IdentityManager)
	tokSwap(t, secret, value, legacy.Name, store.TokenInfo{})
	// The token the test replaced is no longer the host's to revoke.
	defer tokDeleteAnchor(t, secret.Annotations[store.AnnotationTokenSecret])

	res := kubectl.Succeed(t, "fed", "clusters", "eur", "--context", hostCtx)
	if row := strings.Fields(strings.Split(res.Stdout, "\n")[1]); len(row) < 8 || row[7] != store.Never {
		t.Errorf("clusters does not show eur's tokens as never expiring:\n%s", res.Stdout)
	}
	if !strings.Contains(res.Stderr, "kubectl fed rotate eur") {
		t.Errorf("clusters does not say to rotate eur:\n%s", res.Stderr)
	}

	res = kubectl.Succeed(t, "fed", "rotate", "eur", "--identity", "manager", "--context", hostCtx)
	if !strings.Contains(res.Stdout, "replacing a never-expiring token") || !strings.Contains(res.Stdout, "revoked secret/"+legacy.Name) {
		t.Errorf("rotate does not report replacing the legacy token:\n%s", res.Stdout)
	}
	tokWaitRefused(t, "eur", "the legacy manager token", value)
	if _, _, info := tokCredential(t, "eur", v1alpha1.IdentityManager); info.Legacy() {
		t.Errorf("after rotate eur's manager token is still legacy")
	}
}

// TestTokensRefreshNearExpiry gives eur's manager a genuine token near its
// expiry: one the API server would have issued 50 minutes ago for an hour,
// signed with eur's own service-account key, bound to an anchor. The next
// command that loads the members refreshes it before using it, with a new
// token of the same lifetime, and leaves the old one working, since
// commands that started before may hold it.
func TestTokensRefreshNearExpiry(t *testing.T) {
	secret, current, _ := tokCredential(t, "eur", v1alpha1.IdentityManager)
	// The token the test replaces is no longer the host's to revoke.
	defer tokDeleteAnchor(t, secret.Annotations[store.AnnotationTokenSecret])
	aged, anchorName := tokAge(t, secret, current)

	res := kubectl.Succeed(t, "fed", "get", "configmaps", "-n", "default", "--context", hostCtx)
	if strings.Contains(res.Stderr, "could not be refreshed") {
		t.Errorf("the refresh failed:\n%s", res.Stderr)
	}
	after, value, got := tokCredential(t, "eur", v1alpha1.IdentityManager)
	switch {
	case value == aged:
		t.Fatalf("kubectl fed get did not refresh a token with 10 of its 60 minutes left")
	case got.Legacy() || got.BoundSecret == "" || got.BoundSecret == anchorName:
		t.Errorf("the refreshed token is not bound to a new anchor: %+v", got)
	case got.Lifetime() != time.Hour:
		t.Errorf("the refreshed token lasts %s, want the hour the old one lasted", got.Lifetime())
	}
	if p := after.Annotations[store.AnnotationPreviousTokenSecret]; p != anchorName {
		t.Errorf("annotation %s = %q, want the aged token's anchor %s", store.AnnotationPreviousTokenSecret, p, anchorName)
	}
	if _, err := tokWhoami(t.Context(), t, "eur", aged); err != nil {
		t.Errorf("the refresh revoked the aged token, which commands that started before may hold: %v", err)
	}
	if _, err := tokWhoami(t.Context(), t, "eur", value); err != nil {
		t.Errorf("the refreshed token does not work: %v", err)
	}
	// A second command finds nothing due.
	kubectl.Succeed(t, "fed", "clusters", "eur", "--context", hostCtx)
	if _, v, _ := tokCredential(t, "eur", v1alpha1.IdentityManager); v != value {
		t.Errorf("a second command refreshed the fresh token again")
	}

	// Put back a token of the usual lifetime; the rotation revokes the
	// aged one, which the previous-token annotation named, and the hour's.
	res = kubectl.Succeed(t, "fed", "rotate", "eur", "--identity", "manager", "--token-lifetime", membership.DefaultTokenLifetime.String(), "--context", hostCtx)
	if !strings.Contains(res.Stdout, "revoked secret/"+anchorName) {
		t.Errorf("rotate does not revoke the previous token's anchor %s:\n%s", anchorName, res.Stdout)
	}
	tokWaitRefused(t, "eur", "the aged token", aged)
}

// TestTokensJoinLifetime joins eur again with --token-lifetime 10m, the
// shortest the API server issues: the tokens last 10 minutes; a join with
// the default lifetime puts 30 days back.
func TestTokensJoinLifetime(t *testing.T) {
	kubectl.Succeed(t, "fed", "join", "eur", "--cluster-context", "eur", "--token-lifetime", "10m", "--context", hostCtx)
	for _, id := range membership.Identities() {
		if _, _, info := tokCredential(t, "eur", id); info.Lifetime() != 10*time.Minute {
			t.Errorf("after join --token-lifetime 10m the %s token lasts %s", id, info.Lifetime())
		}
	}
	res := kubectl.Fail(t, "fed", "join", "eur", "--cluster-context", "eur", "--token-lifetime", "9m", "--context", hostCtx)
	if !strings.Contains(res.Stderr, "too short") {
		t.Errorf("join --token-lifetime 9m: %s", res.Stderr)
	}
	kubectl.Succeed(t, "fed", "join", "eur", "--cluster-context", "eur", "--token-lifetime", membership.DefaultTokenLifetime.String(), "--context", hostCtx)
	for _, id := range membership.Identities() {
		if _, _, info := tokCredential(t, "eur", id); info.Lifetime() != membership.DefaultTokenLifetime {
			t.Errorf("after join --token-lifetime 720h the %s token lasts %s", id, info.Lifetime())
		}
	}
	// Only the tokens in use have anchors: join deleted the 10-minute ones.
	list, err := testLab.Cluster("eur").Client().CoreV1().Secrets(v1alpha1.Namespace).List(t.Context(), metav1.ListOptions{FieldSelector: "type=" + string(store.SecretTypeTokenAnchor)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		var names []string
		for _, s := range list.Items {
			names = append(names, s.Name)
		}
		t.Errorf("eur has anchors %v, want the 2 of the tokens in use", names)
	}
}

// TestTokensRefreshFailureWarns: with eur's API server down, a command
// cannot refresh eur's aged manager token; it says so, naming the cluster
// and the expiry, and shows the other members. Once eur is back, the next
// command refreshes the token.
func TestTokensRefreshFailureWarns(t *testing.T) {
	secret, current, _ := tokCredential(t, "eur", v1alpha1.IdentityManager)
	defer tokDeleteAnchor(t, secret.Annotations[store.AnnotationTokenSecret])
	aged, _ := tokAge(t, secret, current)
	eur := testLab.Cluster("eur")
	if err := eur.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = eur.StartAPIServer(context.Background())
		}
	}()

	res := kubectl.Succeed(t, "fed", "clusters", "--context", hostCtx)
	if !strings.Contains(res.Stderr, "Warning: the manager token of cluster eur expires in 9m") || !strings.Contains(res.Stderr, "could not be refreshed") ||
		!strings.Contains(res.Stderr, "kubectl fed rotate eur") {
		t.Errorf("clusters does not warn that eur's manager token could not be refreshed:\n%s", res.Stderr)
	}
	for _, m := range []string{"jpn", "usa"} {
		if !strings.Contains(res.Stdout, m) {
			t.Errorf("clusters does not show %s:\n%s", m, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout+res.Stderr, aged) {
		t.Errorf("the output holds the token")
	}
	if _, v, _ := tokCredential(t, "eur", v1alpha1.IdentityManager); v != aged {
		t.Errorf("the host's token changed although eur could not be reached")
	}

	if err := eur.StartAPIServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted = true
	res = kubectl.Succeed(t, "fed", "clusters", "--context", hostCtx)
	if strings.Contains(res.Stderr, "could not be refreshed") {
		t.Errorf("once eur is back the refresh still fails:\n%s", res.Stderr)
	}
	if _, v, _ := tokCredential(t, "eur", v1alpha1.IdentityManager); v == aged {
		t.Errorf("once eur is back the next command did not refresh its token")
	}
	kubectl.Succeed(t, "fed", "rotate", "eur", "--identity", "manager", "--token-lifetime", membership.DefaultTokenLifetime.String(), "--context", hostCtx)
}

// TestTokensConcurrentRefresh runs three commands at once on an aged
// manager token: each may mint a token, but one swap wins, the others
// delete the anchors of theirs, and the host ends with one working token.
func TestTokensConcurrentRefresh(t *testing.T) {
	secret, current, _ := tokCredential(t, "eur", v1alpha1.IdentityManager)
	defer tokDeleteAnchor(t, secret.Annotations[store.AnnotationTokenSecret])
	aged, agedAnchor := tokAge(t, secret, current)

	var runs []<-chan framework.Result
	for range 3 {
		runs = append(runs, kubectl.Start(t.Context(), "fed", "clusters", "--context", hostCtx))
	}
	for _, r := range runs {
		if res := <-r; res.ExitCode != 0 || strings.Contains(res.Stderr, "could not be refreshed") {
			t.Errorf("a concurrent refresh failed:\n%s", res)
		}
	}
	after, value, info := tokCredential(t, "eur", v1alpha1.IdentityManager)
	if value == aged {
		t.Fatalf("none of the commands refreshed the aged token")
	}
	if _, err := tokWhoami(t.Context(), t, "eur", value); err != nil {
		t.Errorf("the token the host holds does not work: %v", err)
	}
	// What is left: the anchors of the token in use, of the aged one
	// (kept as the previous) and of the one the test took over; none of
	// the tokens that lost the race.
	want := map[string]bool{info.BoundSecret: true, agedAnchor: true, secret.Annotations[store.AnnotationTokenSecret]: true}
	if after.Annotations[store.AnnotationPreviousTokenSecret] != agedAnchor {
		t.Errorf("the previous token's anchor is %q, want the aged token's %s", after.Annotations[store.AnnotationPreviousTokenSecret], agedAnchor)
	}
	list, err := testLab.Cluster("eur").Client().CoreV1().Secrets(v1alpha1.Namespace).List(t.Context(), metav1.ListOptions{FieldSelector: "type=" + string(store.SecretTypeTokenAnchor)})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Items {
		if s.Annotations[corev1.ServiceAccountNameKey] == membership.ManagerServiceAccount && !want[s.Name] {
			t.Errorf("anchor %s is left, of a token no one holds", s.Name)
		}
	}
	kubectl.Succeed(t, "fed", "rotate", "eur", "--identity", "manager", "--token-lifetime", membership.DefaultTokenLifetime.String(), "--context", hostCtx)
}
