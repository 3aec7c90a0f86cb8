package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// rotateDNSHost replaces the token a member's coredns-fed reads the host
// with, as dns install would once it is due, but now: a new token of the
// host's coredns-fed, bound to a new anchor in the host, is proven against
// the host, written into the member's Secret kfed-system/coredns-fed-host
// with the manager identity, and the member's Deployment is told to
// restart its pods (the digest annotation dns install sets); then the old
// anchors are deleted, which revokes the old token. A member without
// coredns-fed is left alone: skipped says so.
func rotateDNSHost(ctx context.Context, s *store.Store, fed string, c *v1alpha1.Cluster, timeout time.Duration) (line string, skipped bool, err error) {
	cfg, _, err := s.MemberConfig(ctx, c, v1alpha1.IdentityManager)
	if err != nil {
		return "", false, err
	}
	cfg.Timeout = timeout
	member, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", false, err
	}
	secrets := member.CoreV1().Secrets(v1alpha1.Namespace)
	secret, err := secrets.Get(ctx, corednsFedHost, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("reading secret %s/%s in cluster %s: %w", v1alpha1.Namespace, corednsFedHost, c.Name, err)
	}
	conn, err := store.CredentialOf(secret)
	if err != nil {
		return "", false, err
	}
	sa, err := s.Kube.CoreV1().ServiceAccounts(v1alpha1.Namespace).Get(ctx, corednsFedName, metav1.GetOptions{})
	if err != nil {
		return "", false, fmt.Errorf("reading serviceaccount %s/%s in the host: %w", v1alpha1.Namespace, corednsFedName, err)
	}
	token, anchor, err := mintHostToken(ctx, s.Kube, sa, fed, c.Name, dnsHostTokenLifetime)
	if err != nil {
		return "", false, err
	}
	if err := proveHostToken(ctx, s, fed, token); err != nil {
		_ = s.Kube.CoreV1().Secrets(v1alpha1.Namespace).Delete(context.WithoutCancel(ctx), anchor, metav1.DeleteOptions{})
		return "", false, fmt.Errorf("cluster %s: the new token of the host does not work: %w", c.Name, err)
	}

	conn.Token = token
	kubeconfig, err := conn.Kubeconfig("host", corednsFedName)
	if err != nil {
		return "", false, err
	}
	secret.Data[v1alpha1.SecretKeyKubeconfig] = kubeconfig
	if _, err := secrets.Update(ctx, secret, metav1.UpdateOptions{FieldManager: fieldManager}); err != nil {
		_ = s.Kube.CoreV1().Secrets(v1alpha1.Namespace).Delete(context.WithoutCancel(ctx), anchor, metav1.DeleteOptions{})
		return "", false, fmt.Errorf("saving the new token of the host in secret %s/%s of cluster %s: %w; the old token stays in use", v1alpha1.Namespace, corednsFedHost, c.Name, err)
	}
	restarted := true
	sum := sha256.Sum256(kubeconfig)
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{annotationHostKubeconfig: hex.EncodeToString(sum[:8])}}}}})
	_, err = member.AppsV1().Deployments(v1alpha1.Namespace).Patch(ctx, corednsFedName, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		restarted = false
	}
	revoked := dropHostTokens(ctx, s.Kube, c.Name, anchor)
	line = fmt.Sprintf("cluster %s: %s token rotated, expires %s", c.Name, identityDNSHost, time.Now().Add(dnsHostTokenLifetime).UTC().Format(time.RFC3339))
	if len(revoked) > 0 {
		line += "; revoked " + strings.Join(prefixed("secret/", revoked), ", ") + " in the host"
	}
	if !restarted {
		line += fmt.Sprintf("; could not restart deployment %s/%s (%v): restart it for its pods to read the new token", v1alpha1.Namespace, corednsFedName, err)
	}
	return line, false, nil
}

// proveHostToken shows that a token reads the federation's Clusters in the
// host, as a member's coredns-fed does, through the address this machine
// reaches the host at.
func proveHostToken(ctx context.Context, s *store.Store, fed, token string) error {
	cfg := rest.CopyConfig(s.Config)
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return err
	}
	only := &rest.Config{
		Host:            cfg.Host,
		BearerToken:     token,
		Timeout:         15 * time.Second,
		TLSClientConfig: rest.TLSClientConfig{CAData: cfg.CAData, ServerName: cfg.ServerName, Insecure: cfg.Insecure},
	}
	hs, err := store.New(only)
	if err != nil {
		return err
	}
	_, err = hs.Members(ctx, fed)
	return err
}
