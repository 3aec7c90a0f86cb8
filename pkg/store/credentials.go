package store

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Credential is one identity's access to one member: everything its
// kubeconfig holds. It never appears in logs or errors.
type Credential struct {
	// Server is the member's API server URL.
	Server string
	// CAData is the PEM bundle that verifies the server; empty means the
	// system's roots.
	CAData []byte
	// TLSServerName overrides the name the certificate is checked against.
	TLSServerName string
	// InsecureSkipTLSVerify is copied from the member's own context and is
	// never set otherwise.
	InsecureSkipTLSVerify bool
	// ProxyURL is the proxy the member's context goes through, if any.
	ProxyURL string
	// Token is the identity's bearer token.
	Token string
}

// String hides the token, so that a Credential printed by mistake leaks
// nothing.
func (c Credential) String() string {
	return fmt.Sprintf("credential for %s", c.Server)
}

// GoString hides the token from %#v too.
func (c Credential) GoString() string { return c.String() }

// Kubeconfig renders the credential as a kubeconfig with one context, named
// after the member, which is also the current context.
func (c Credential) Kubeconfig(member, identity string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = c.Server
	cluster.CertificateAuthorityData = c.CAData
	cluster.TLSServerName = c.TLSServerName
	cluster.InsecureSkipTLSVerify = c.InsecureSkipTLSVerify
	cluster.ProxyURL = c.ProxyURL
	user := clientcmdapi.NewAuthInfo()
	user.Token = c.Token
	userName := "kfed-" + identity
	ctx := clientcmdapi.NewContext()
	ctx.Cluster, ctx.AuthInfo, ctx.Namespace = member, userName, v1alpha1.Namespace
	cfg.Clusters[member] = cluster
	cfg.AuthInfos[userName] = user
	cfg.Contexts[member] = ctx
	cfg.CurrentContext = member
	return clientcmd.Write(*cfg)
}

// RESTConfig returns a client configuration for the credential. It goes
// through ParseKubeconfig, so a credential that would be refused when read
// back from its Secret is refused here, before it is stored.
func (c Credential) RESTConfig() (*rest.Config, error) {
	data, err := c.Kubeconfig("member", "identity")
	if err != nil {
		return nil, err
	}
	return ParseKubeconfig(data, "")
}

// CredentialSecretName returns the name of the host Secret holding an
// identity's kubeconfig for a member.
func CredentialSecretName(cluster, identity string) string {
	return cluster + "-" + identity + "-kubeconfig"
}

// CredentialNamespace returns the host namespace of an identity's
// credential Secrets. The DNS readers' are kept apart from everything else,
// so that coredns-fed can be allowed to read them and nothing more.
func (s *Store) CredentialNamespace(identity string) string {
	if identity == v1alpha1.IdentityDNSReader {
		return s.DNSNamespace
	}
	return s.Namespace
}

// DNSReaderSelector selects the DNS-reader credential Secrets of a member
// by their labels. The Cluster cannot own them, an owner being in its
// dependent's namespace, so what its spec no longer names is found this
// way.
func DNSReaderSelector(cluster string) string {
	return labels.SelectorFromSet(labels.Set{
		v1alpha1.LabelCluster:   cluster,
		v1alpha1.LabelIdentity:  v1alpha1.IdentityDNSReader,
		v1alpha1.LabelManagedBy: v1alpha1.ManagedBy,
	}).String()
}

// AnnotationTokenSecret on a credential Secret names the token Secret in
// the member's kfed-system that the credential's token comes from, so that
// rotation and unjoin know what to delete there.
const AnnotationTokenSecret = v1alpha1.GroupName + "/token-secret"

// CredentialSecret returns the host Secret holding an identity's kubeconfig
// for a member.
func (s *Store) CredentialSecret(federation, cluster, identity, tokenSecret string, c Credential) (*corev1.Secret, error) {
	data, err := c.Kubeconfig(cluster, identity)
	if err != nil {
		return nil, err
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      CredentialSecretName(cluster, identity),
			Namespace: s.CredentialNamespace(identity),
			Labels: map[string]string{
				v1alpha1.LabelFederation: federation,
				v1alpha1.LabelCluster:    cluster,
				v1alpha1.LabelIdentity:   identity,
				v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
			},
			Annotations: map[string]string{AnnotationTokenSecret: tokenSecret},
		},
		Type: v1alpha1.SecretTypeKubeconfig,
		Data: map[string][]byte{v1alpha1.SecretKeyKubeconfig: data},
	}, nil
}

// ErrCredentialMissing is wrapped by the errors of MemberConfig when the
// Secret is gone or holds no usable kubeconfig.
var ErrCredentialMissing = errors.New("credential missing")

// MemberConfig returns the client configuration of one identity of a
// member, read from its host Secret, and the name of its token Secret in
// the member.
func (s *Store) MemberConfig(ctx context.Context, c *v1alpha1.Cluster, identity string) (*rest.Config, string, error) {
	name := credentialName(c, identity)
	if name == "" {
		return nil, "", fmt.Errorf("cluster %q names no %s credential Secret: %w", c.Name, identity, ErrCredentialMissing)
	}
	ns := s.CredentialNamespace(identity)
	secret, err := s.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if ns != s.Namespace && s.isLegacyReader(ctx, name) {
			return nil, "", fmt.Errorf("the %s credential of cluster %q is in Secret %s/%s, where an older kubectl-fed kept it and coredns-fed no longer reads it: join the cluster again to move it to %s: %w",
				identity, c.Name, s.Namespace, name, ns, ErrCredentialMissing)
		}
		return nil, "", fmt.Errorf("the %s credential of cluster %q, Secret %s/%s, is missing: %w", identity, c.Name, ns, name, ErrCredentialMissing)
	}
	if err != nil {
		return nil, "", err
	}
	cfg, err := ConfigFromSecret(secret)
	if err != nil {
		return nil, "", err
	}
	return cfg, secret.Annotations[AnnotationTokenSecret], nil
}

// ConfigFromSecret returns the client configuration in a credential Secret,
// built by ParseKubeconfig from its current context: a kubeconfig planted
// with a command to run or a file to read is refused, and nothing runs.
// Errors name the Secret but never quote its contents.
func ConfigFromSecret(secret *corev1.Secret) (*rest.Config, error) {
	data := secret.Data[v1alpha1.SecretKeyKubeconfig]
	if len(data) == 0 {
		return nil, fmt.Errorf("credential Secret %s/%s has no %q key: %w", secret.Namespace, secret.Name, v1alpha1.SecretKeyKubeconfig, ErrCredentialMissing)
	}
	cfg, err := ParseKubeconfig(data, "")
	if errors.Is(err, ErrUntrustedField) {
		return nil, fmt.Errorf("credential Secret %s/%s: %w; kfed writes only server, CA and token there: someone else changed it, so check who can write Secrets in %s, then join the cluster again",
			secret.Namespace, secret.Name, err, secret.Namespace)
	}
	if err != nil {
		return nil, fmt.Errorf("credential Secret %s/%s does not hold a usable kubeconfig (%v): %w", secret.Namespace, secret.Name, err, ErrCredentialMissing)
	}
	return cfg, nil
}

// isLegacyReader reports whether a DNS-reader credential of the given name
// is in Namespace, where kubectl-fed kept it before DNSNamespace existed.
func (s *Store) isLegacyReader(ctx context.Context, name string) bool {
	secret, err := s.Kube.CoreV1().Secrets(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	return err == nil && secret.Labels[v1alpha1.LabelIdentity] == v1alpha1.IdentityDNSReader
}

// CredentialSecrets returns the credential Secrets the host holds for a
// member: those its Cluster names, and every DNS-reader Secret labelled
// with its name, in DNSNamespace and in Namespace, where kubectl-fed kept
// them before DNSNamespace existed. Unlike the manager's, the DNS reader's
// Secrets are not deleted with the Cluster, so whoever removes a member
// deletes all of these.
func (s *Store) CredentialSecrets(ctx context.Context, c *v1alpha1.Cluster) ([]corev1.Secret, error) {
	var out []corev1.Secret
	seen := map[string]bool{}
	add := func(secret corev1.Secret) {
		if key := secret.Namespace + "/" + secret.Name; !seen[key] {
			seen[key] = true
			out = append(out, secret)
		}
	}
	for _, id := range []string{v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader} {
		name, ns := credentialName(c, id), s.CredentialNamespace(id)
		if name == "" {
			continue
		}
		secret, err := s.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading secret %s/%s: %w", ns, name, err)
		}
		add(*secret)
	}
	for _, ns := range []string{s.DNSNamespace, s.Namespace} {
		list, err := s.Kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: DNSReaderSelector(c.Name)})
		if err != nil {
			return nil, fmt.Errorf("listing the DNS-reader Secrets of cluster %q in %s: %w", c.Name, ns, err)
		}
		for _, secret := range list.Items {
			add(secret)
		}
	}
	return out, nil
}

// credentialName returns the name of the Secret a Cluster names for an
// identity.
func credentialName(c *v1alpha1.Cluster, identity string) string {
	if identity == v1alpha1.IdentityDNSReader {
		return c.Spec.Credentials.DNSReader.Name
	}
	return c.Spec.Credentials.Manager.Name
}
