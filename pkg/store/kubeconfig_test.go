package store

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigWith returns a kubeconfig of one context, "m", whose cluster
// and user are changed by edit.
func kubeconfigWith(t *testing.T, edit func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo)) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = "https://203.0.113.10:6443"
	cluster.CertificateAuthorityData = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	user := clientcmdapi.NewAuthInfo()
	user.Token = secretToken
	edit(cluster, user)
	cfg.Clusters["c"], cfg.AuthInfos["u"] = cluster, user
	cfg.Contexts["m"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "m"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseKubeconfigRefusesUntrustedFields(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo)
	}{
		{"exec", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.Exec = &clientcmdapi.ExecConfig{Command: "/bin/touch", Args: []string{"/tmp/pwned"}, APIVersion: "client.authentication.k8s.io/v1"}
		}},
		{"auth-provider", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
			u.AuthProvider = &clientcmdapi.AuthProviderConfig{Name: "oidc"}
		}},
		{"tokenFile", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.TokenFile = "/etc/shadow" }},
		{"client-certificate", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.ClientCertificate = "/root/.ssh/id_rsa" }},
		{"client-key", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.ClientKey = "/root/.ssh/id_rsa" }},
		{"username/password", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.Username, u.Password = "admin", "admin" }},
		{"as", func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.Impersonate = "system:admin" }},
		{"server", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) { c.Server = "http://203.0.113.10:8080" }},
		{"insecure-skip-tls-verify", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) {
			c.InsecureSkipTLSVerify, c.CertificateAuthorityData = true, nil
		}},
		{"certificate-authority", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) {
			c.CertificateAuthority, c.CertificateAuthorityData = "/etc/passwd", nil
		}},
		{"proxy-url", func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) { c.ProxyURL = "file:///etc/passwd" }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			_, err := ParseKubeconfig(kubeconfigWith(t, tc.edit), "")
			if !errors.Is(err, ErrUntrustedField) {
				t.Fatalf("got %v, want a refusal of %s", err, tc.field)
			}
			if !strings.Contains(err.Error(), "sets "+tc.field+" (") {
				t.Errorf("the error does not name the field %s: %v", tc.field, err)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}

func TestParseKubeconfigBuildsOnlyWhatItChecked(t *testing.T) {
	data := kubeconfigWith(t, func(c *clientcmdapi.Cluster, _ *clientcmdapi.AuthInfo) {
		c.TLSServerName = "api.eur.example.com"
		c.ProxyURL = "socks5://127.0.0.1:1080"
	})
	cfg, err := ParseKubeconfig(data, "m")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://203.0.113.10:6443" || cfg.BearerToken != secretToken || cfg.ServerName != "api.eur.example.com" ||
		len(cfg.CAData) == 0 || cfg.Insecure || cfg.ExecProvider != nil || cfg.AuthProvider != nil || cfg.BearerTokenFile != "" {
		t.Errorf("unexpected configuration for %s", cfg.Host)
	}
	if cfg.Proxy == nil {
		t.Error("the proxy was dropped")
	}
	certOnly := kubeconfigWith(t, func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) {
		u.Token, u.ClientCertificateData, u.ClientKeyData = "", []byte("cert"), []byte("key")
	})
	if cfg, err := ParseKubeconfig(certOnly, ""); err != nil || string(cfg.CertData) != "cert" || string(cfg.KeyData) != "key" {
		t.Errorf("a client certificate user: %v", err)
	}
}

func TestParseKubeconfigNamesWhatIsMissing(t *testing.T) {
	for _, tc := range []struct {
		name, context, want string
		data                []byte
	}{
		{"no such context", "x", `no context "x"`, kubeconfigWith(t, func(*clientcmdapi.Cluster, *clientcmdapi.AuthInfo) {})},
		{"no credential", "", "neither a token nor a client certificate", kubeconfigWith(t, func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.Token = "" })},
		{"key without certificate", "", "without its key", kubeconfigWith(t, func(_ *clientcmdapi.Cluster, u *clientcmdapi.AuthInfo) { u.ClientKeyData = []byte("k") })},
		{"garbage", "", "not a valid kubeconfig", []byte("users: [" + secretToken)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKubeconfig(tc.data, tc.context)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("the error quotes the kubeconfig: %v", err)
			}
		})
	}
}
