//go:build e2e

package delegation_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// rotateDNSHost runs kubectl fed rotate --identity dns-host for a member
// and checks what it did: the member's Secret coredns-fed-host holds a new
// token of the host's coredns-fed, bound to a new anchor in the host; the
// old token is refused by the host and the new one reads the Clusters; the
// member's Deployment was told to restart its pods.
func rotateDNSHost(t *testing.T, member string) {
	t.Helper()
	hostClient := testLab.Cluster(host).Client()
	read := func() (string, store.TokenInfo, string) {
		token, digest := dnsHostState(t, member)
		info, err := store.ParseToken(token)
		if err != nil {
			t.Fatal(err)
		}
		return token, info, digest
	}
	oldToken, oldInfo, oldDigest := read()

	res := kubectl.Succeed(t, "fed", "rotate", member, "--identity", "dns-host", "--context", host)
	if !strings.Contains(res.Stdout, "cluster "+member+": dns-host token rotated") || !strings.Contains(res.Stdout, "revoked secret/"+oldInfo.BoundSecret) {
		t.Errorf("rotate does not report replacing %s's token of the host and revoking its anchor %s:\n%s", member, oldInfo.BoundSecret, res.Stdout)
	}
	if strings.Contains(res.Stdout+res.Stderr, oldToken) {
		t.Errorf("rotate printed the token")
	}
	newToken, newInfo, newDigest := read()
	if newToken == oldToken || newInfo.Legacy() || newInfo.BoundSecret == oldInfo.BoundSecret {
		t.Fatalf("after rotate %s holds the same token, or one not bound to a new anchor: %+v", member, newInfo)
	}
	if newDigest == oldDigest {
		t.Errorf("the Deployment of %s was not told to restart its pods (digest %s)", member, newDigest)
	}
	anchor, err := hostClient.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), newInfo.BoundSecret, metav1.GetOptions{})
	if err != nil || anchor.Labels[v1alpha1.LabelCluster] != member || anchor.Type != store.SecretTypeTokenAnchor {
		t.Errorf("the new anchor %s in the host: %v, labels %v", newInfo.BoundSecret, err, anchor.Labels)
	}
	hostWith := func(token string) *store.Store {
		c := testLab.Cluster(host)
		s, err := store.New(&rest.Config{Host: c.Server, BearerToken: token, Timeout: 10 * time.Second, TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, err := hostWith(newToken).Members(t.Context(), federation); err != nil {
		t.Errorf("the new token of %s does not read the host's Clusters: %v", member, err)
	}
	// The host caches a token it accepted for 10 s.
	framework.Eventually(t, 13*time.Second, 100*time.Millisecond, "the old token of "+member+" refused by the host", func(ctx context.Context) error {
		if _, err := hostWith(oldToken).Members(ctx, federation); !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("reading the host's Clusters with it: %v, want 401 Unauthorized", err)
		}
		return nil
	})
}

// dnsHostState returns a member's token of the host, from its Secret
// coredns-fed-host, and the digest of that kubeconfig on its Deployment's
// pods, which restarts them when it changes.
func dnsHostState(t *testing.T, member string) (string, string) {
	t.Helper()
	client := testLab.Cluster(member).Client()
	secret, err := client.CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), "coredns-fed-host", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := store.SecretToken(secret)
	if err != nil {
		t.Fatal(err)
	}
	d, err := client.AppsV1().Deployments(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return token, d.Spec.Template.Annotations[v1alpha1.GroupName+"/host-kubeconfig-digest"]
}
