package plugin

// What a member's coredns-fed reads the host with: a token of the host's
// coredns-fed ServiceAccount per member, in a kubeconfig in the member.

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// hostKubeconfig gives a member's coredns-fed a kubeconfig of the host: it
// makes sure the host has a token Secret of the coredns-fed ServiceAccount
// for that member (one per member, so that deleting it cuts off that member
// alone), and writes the kubeconfig into the member's Secret
// coredns-fed-host. It returns the kubeconfig.
func (o *DNSInstallOptions) hostKubeconfig(ctx context.Context, c *dnsCluster) (string, error) {
	token, caCert, err := o.hostToken(ctx, c.name)
	if err != nil {
		return "", err
	}
	cfg := rest.CopyConfig(o.store.Config)
	if err := rest.LoadTLSFiles(cfg); err != nil {
		return "", fmt.Errorf("reading the CA of the host's context: %w", err)
	}
	cred := store.Credential{
		Server:                cfg.Host,
		TLSServerName:         cfg.TLSClientConfig.ServerName,
		InsecureSkipTLSVerify: cfg.TLSClientConfig.Insecure,
		Token:                 token,
	}
	if o.HostServer != "" {
		cred.Server = o.HostServer
	}
	if !cred.InsecureSkipTLSVerify {
		// The context's CA verifies the address the user reaches; the
		// cluster's own CA, from the token Secret, the addresses pods use.
		cred.CAData = caBundle(cfg.TLSClientConfig.CAData, caCert)
	}
	kubeconfig, err := cred.Kubeconfig(o.clusters[0].name, corednsFedName)
	if err != nil {
		return "", err
	}
	secret, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: corednsFedHost, Namespace: v1alpha1.Namespace, Labels: o.labels(c.name)},
		Type:       v1alpha1.SecretTypeKubeconfig,
		Data:       map[string][]byte{v1alpha1.SecretKeyKubeconfig: kubeconfig},
	})
	if err != nil {
		return "", err
	}
	if err := applyTo(ctx, c, &unstructured.Unstructured{Object: secret}); err != nil {
		return "", err
	}
	return string(kubeconfig), nil
}

// labels are those of what install creates for a member.
func (o *DNSInstallOptions) labels(cluster string) map[string]string {
	return dnsHostLabels(o.federation.Name, cluster)
}

// corednsFedTokenName is the host's legacy token Secret of the coredns-fed
// ServiceAccount for one member, as older installs made it. An install
// replaces it with a bound token and deletes it.
func corednsFedTokenName(cluster string) string {
	return corednsFedName + "-token-" + cluster
}

// dnsHostTokenLifetime is how long a member's token of the host lasts.
// Only dns install refreshes it (once a third of it is left), so it lasts
// longer than the identities' tokens, which every command refreshes.
const dnsHostTokenLifetime = 90 * 24 * time.Hour

// hostToken returns a token of the host's coredns-fed ServiceAccount for
// one member, and the host cluster's CA, which the member's pods verify the
// host with. The token comes from the TokenRequest API, bound to an anchor
// Secret of its own in the host's kfed-system, so that deleting the anchor
// (unjoin does) cuts off that member alone, at once; it expires after
// dnsHostTokenLifetime.
//
// The token the member holds is kept while it is bound to an anchor that
// is still there and is not due for a refresh, so that a re-run does not
// restart the member's pods for nothing. Other token material of the
// member in the host is deleted, but for the token the member held, which
// its pods use until they restart with the new one: the next install
// deletes that.
func (o *DNSInstallOptions) hostToken(ctx context.Context, cluster string) (token string, caCert []byte, err error) {
	kube := o.store.Kube
	sa, err := kube.CoreV1().ServiceAccounts(v1alpha1.Namespace).Get(ctx, corednsFedName, metav1.GetOptions{})
	if err != nil {
		return "", nil, fmt.Errorf("reading serviceaccount %s/%s in the host: %w", v1alpha1.Namespace, corednsFedName, err)
	}
	caCert = o.hostRootCA(ctx)
	held, heldFrom := o.heldHostToken(ctx, cluster, sa)
	if held != "" && heldFrom != corednsFedTokenName(cluster) {
		dropHostTokens(ctx, kube, cluster, heldFrom)
		return held, caCert, nil
	}
	token, anchor, err := mintHostToken(ctx, kube, sa, o.federation.Name, cluster, dnsHostTokenLifetime)
	if err != nil {
		return "", nil, err
	}
	dropHostTokens(ctx, kube, cluster, anchor, heldFrom)
	return token, caCert, nil
}

// heldHostToken returns the member's token of the host, and the name of
// the anchor or legacy token Secret it comes from, if it is one of this
// host's coredns-fed and still good: a legacy token, or a bound one whose
// anchor is there and that is not due for a refresh.
func (o *DNSInstallOptions) heldHostToken(ctx context.Context, cluster string, sa *corev1.ServiceAccount) (string, string) {
	var c *dnsCluster
	for _, dc := range o.clusters {
		if dc.name == cluster && dc.dynamic != nil {
			c = dc
		}
	}
	if c == nil {
		return "", ""
	}
	u, err := c.dynamic.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(v1alpha1.Namespace).Get(ctx, corednsFedHost, metav1.GetOptions{})
	if err != nil {
		return "", ""
	}
	var secret corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &secret); err != nil {
		return "", ""
	}
	value, info, err := store.SecretToken(&secret)
	if err != nil || value == "" {
		return "", ""
	}
	if info.Legacy() {
		// Only to know what not to delete yet: it is replaced.
		return value, corednsFedTokenName(cluster)
	}
	anchor, err := o.store.Kube.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, info.BoundSecret, metav1.GetOptions{})
	if err != nil || string(anchor.UID) != info.BoundSecretUID || anchor.Labels[v1alpha1.LabelCluster] != cluster ||
		info.ServiceAccountUID != string(sa.UID) || info.RefreshDue(time.Now()) {
		return "", ""
	}
	return value, anchor.Name
}

// hostRootCA returns the host cluster's own CA, which its API server's
// in-cluster addresses are signed by, as every namespace's
// kube-root-ca.crt ConfigMap publishes it; nil if it cannot be read.
func (o *DNSInstallOptions) hostRootCA(ctx context.Context) []byte {
	cm, err := o.store.Kube.CoreV1().ConfigMaps(v1alpha1.Namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return []byte(cm.Data["ca.crt"])
}

// caBundle joins PEM bundles, leaving out a second copy of the same one.
func caBundle(a, b []byte) []byte {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0 || strings.TrimSpace(string(a)) == strings.TrimSpace(string(b)):
		return a
	}
	return []byte(strings.TrimRight(string(a), "\n") + "\n" + string(b))
}
