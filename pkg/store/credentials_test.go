package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

const secretToken = "s3cr3t-t0ken-that-must-not-leak"

func TestCredentialRoundTrip(t *testing.T) {
	c := Credential{
		Server:        "https://203.0.113.10:6443",
		CAData:        []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		TLSServerName: "api.eur.example.com",
		Token:         secretToken,
	}
	s := &Store{Namespace: v1alpha1.Namespace}
	secret, err := s.CredentialSecret("magicring", "eur", v1alpha1.IdentityDNSReader, "kfed-dns-reader-token-abcde", c)
	if err != nil {
		t.Fatal(err)
	}
	if secret.Name != "eur-dns-reader-kubeconfig" || secret.Type != v1alpha1.SecretTypeKubeconfig {
		t.Errorf("secret %s of type %s", secret.Name, secret.Type)
	}
	for k, v := range map[string]string{
		v1alpha1.LabelFederation: "magicring", v1alpha1.LabelCluster: "eur",
		v1alpha1.LabelIdentity: "dns-reader", v1alpha1.LabelManagedBy: "kubectl-fed",
	} {
		if secret.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, secret.Labels[k], v)
		}
	}
	if secret.Annotations[AnnotationTokenSecret] != "kfed-dns-reader-token-abcde" {
		t.Errorf("token Secret annotation = %q", secret.Annotations[AnnotationTokenSecret])
	}
	cfg, err := ConfigFromSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != c.Server || cfg.BearerToken != secretToken || string(cfg.CAData) != string(c.CAData) ||
		cfg.ServerName != c.TLSServerName || cfg.Insecure {
		t.Errorf("round trip lost something: host %s, server name %s, insecure %v", cfg.Host, cfg.ServerName, cfg.Insecure)
	}
}

// TestNoLeaks checks that neither printing a Credential nor the errors of
// a broken Secret quote a token or the kubeconfig.
func TestNoLeaks(t *testing.T) {
	c := Credential{Server: "https://x:6443", Token: secretToken}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, secretToken) {
			t.Errorf("a printed Credential shows the token: %s", s)
		}
	}
	broken := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "eur-manager-kubeconfig", Namespace: "kfed-system"},
		Data:       map[string][]byte{"kubeconfig": []byte("apiVersion: v1\nusers:\n- user: {token: " + secretToken + "}\n  name: [broken")},
	}
	_, err := ConfigFromSecret(broken)
	if err == nil {
		t.Fatal("a broken kubeconfig was accepted")
	}
	if strings.Contains(err.Error(), secretToken) {
		t.Errorf("the error quotes the Secret: %v", err)
	}
	if !strings.Contains(err.Error(), "kfed-system/eur-manager-kubeconfig") {
		t.Errorf("the error does not name the Secret: %v", err)
	}
}

// TestPlantedSecretRefused checks that a credential Secret whose kubeconfig
// names a command is refused with an error naming the Secret and the field.
func TestPlantedSecretRefused(t *testing.T) {
	planted := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "eur-dns-reader-kubeconfig", Namespace: "kfed-dns"},
		Data: map[string][]byte{"kubeconfig": kubeconfigWith(t, func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.Exec = &clientcmdapi.ExecConfig{Command: "/bin/sh", Args: []string{"-c", "id"}, APIVersion: "client.authentication.k8s.io/v1"}
		})},
	}
	_, err := ConfigFromSecret(planted)
	if !errors.Is(err, ErrUntrustedField) {
		t.Fatalf("got %v, want a refusal", err)
	}
	for _, want := range []string{"kfed-dns/eur-dns-reader-kubeconfig", "sets exec"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}
