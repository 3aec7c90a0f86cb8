package plugin

// What a member's coredns-fed reads the host with: a token of the host's
// coredns-fed ServiceAccount per member, in a kubeconfig in the member.

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
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
	return map[string]string{
		"app.kubernetes.io/name":    corednsFedName,
		"app.kubernetes.io/part-of": "kfed",
		v1alpha1.LabelFederation:    o.federation.Name,
		v1alpha1.LabelCluster:       cluster,
		v1alpha1.LabelManagedBy:     v1alpha1.ManagedBy,
	}
}

// corednsFedTokenName is the host's token Secret of the coredns-fed
// ServiceAccount for one member.
func corednsFedTokenName(cluster string) string {
	return corednsFedName + "-token-" + cluster
}

// hostToken returns the long-lived token, and the cluster's CA, of the
// host's coredns-fed ServiceAccount for one member, creating its Secret if
// need be and waiting for the token controller to fill it in.
func (o *DNSInstallOptions) hostToken(ctx context.Context, cluster string) (token string, caCert []byte, err error) {
	secrets := o.store.Kube.CoreV1().Secrets(v1alpha1.Namespace)
	name := corednsFedTokenName(cluster)
	want := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   v1alpha1.Namespace,
			Labels:      o.labels(cluster),
			Annotations: map[string]string{corev1.ServiceAccountNameKey: corednsFedName},
		},
		Type: corev1.SecretTypeServiceAccountToken,
	}
	if _, err := secrets.Create(ctx, want, metav1.CreateOptions{FieldManager: fieldManager}); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", nil, fmt.Errorf("creating the token Secret %s/%s in the host: %w", v1alpha1.Namespace, name, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, o.Timeout, true, func(ctx context.Context) (bool, error) {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != corednsFedName {
			return false, fmt.Errorf("the Secret %s/%s in the host is not a token of the ServiceAccount %s: delete it and run install again", v1alpha1.Namespace, name, corednsFedName)
		}
		token, caCert = string(s.Data[corev1.ServiceAccountTokenKey]), s.Data[corev1.ServiceAccountRootCAKey]
		return token != "", nil
	})
	if err != nil && token == "" {
		if ctx.Err() == nil && wait.Interrupted(err) {
			err = fmt.Errorf("the host's token controller did not fill in the Secret %s/%s within %s: is kube-controller-manager running with --service-account-private-key-file?", v1alpha1.Namespace, name, o.Timeout)
		}
		return "", nil, err
	}
	return token, caCert, nil
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
