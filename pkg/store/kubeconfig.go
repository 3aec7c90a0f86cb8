package store

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ErrUntrustedField is wrapped by the errors of ParseKubeconfig when the
// kubeconfig asks for something kfed does not do with a kubeconfig it did
// not get from the operator: run a command, read a local file, send a token
// in clear or to an unverified server.
var ErrUntrustedField = errors.New("refused, since kfed uses a stored kubeconfig only for its server, CA and inline token or certificate")

// ParseKubeconfig returns the client configuration of one context of a
// kubeconfig that was read from somewhere anyone with write access could
// have planted it: a Secret in the host or a member, or a file mounted
// from one. The empty context means the current one.
//
// Unlike clientcmd, it builds the configuration from the server, the CA,
// the TLS server name, an optional proxy and a bearer token or client
// certificate given inline, and from nothing else. A kubeconfig whose
// context's cluster or user carries anything that would run a command
// (exec, auth-provider), read a local file (tokenFile, certificate and key
// paths), send the credential in clear (an http:// server) or to a server
// that is not verified (insecure-skip-tls-verify), or act as someone else
// (impersonation, basic auth) is refused with an error naming the field.
// Nothing is executed and no file is read.
//
// Errors never quote the kubeconfig's values other than names and the
// server's URL scheme.
func ParseKubeconfig(data []byte, context string) (*rest.Config, error) {
	raw, err := clientcmd.Load(data)
	if err != nil {
		// The parser's errors may quote the input; do not pass them on.
		return nil, errors.New("not a valid kubeconfig")
	}
	return RESTConfigOf(raw, context)
}

// RESTConfigOf is ParseKubeconfig for a kubeconfig already loaded, as
// clientcmd's loading rules load one without running anything.
func RESTConfigOf(raw *clientcmdapi.Config, context string) (*rest.Config, error) {
	if context == "" {
		context = raw.CurrentContext
	}
	kctx, ok := raw.Contexts[context]
	if !ok || kctx == nil {
		if context == "" {
			return nil, errors.New("the kubeconfig has no current context")
		}
		return nil, fmt.Errorf("the kubeconfig has no context %q", context)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok || cluster == nil {
		return nil, fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", context, kctx.Cluster)
	}
	user, ok := raw.AuthInfos[kctx.AuthInfo]
	if !ok || user == nil {
		return nil, fmt.Errorf("context %q names user %q, which the kubeconfig does not define", context, kctx.AuthInfo)
	}
	if err := checkCluster(kctx.Cluster, cluster); err != nil {
		return nil, err
	}
	if err := checkUser(kctx.AuthInfo, user); err != nil {
		return nil, err
	}
	cfg := &rest.Config{
		Host:        cluster.Server,
		BearerToken: user.Token,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:     cluster.CertificateAuthorityData,
			ServerName: cluster.TLSServerName,
			CertData:   user.ClientCertificateData,
			KeyData:    user.ClientKeyData,
		},
	}
	if cluster.ProxyURL != "" {
		u, err := url.Parse(cluster.ProxyURL)
		if err != nil {
			return nil, fmt.Errorf("cluster %q: proxy-url is not a URL", kctx.Cluster)
		}
		cfg.Proxy = http.ProxyURL(u)
	}
	return cfg, nil
}

// checkCluster refuses a cluster entry that would send the credential in
// clear or unverified, or read a local file.
func checkCluster(name string, c *clientcmdapi.Cluster) error {
	u, err := url.Parse(c.Server)
	switch {
	case c.Server == "":
		return fmt.Errorf("cluster %q has no server", name)
	case err != nil || u.Host == "":
		return fmt.Errorf("cluster %q: server is not a URL", name)
	case u.Scheme != "https":
		return untrusted("cluster", name, "server", "a "+u.Scheme+":// server would receive the token in clear; use https")
	case c.InsecureSkipTLSVerify:
		return untrusted("cluster", name, "insecure-skip-tls-verify", "the server would not be verified; give its CA in certificate-authority-data")
	case c.CertificateAuthority != "":
		return untrusted("cluster", name, "certificate-authority", "a path on the machine that reads the kubeconfig; give certificate-authority-data")
	}
	if c.ProxyURL != "" {
		p, err := url.Parse(c.ProxyURL)
		if err != nil || !(p.Scheme == "http" || p.Scheme == "https" || p.Scheme == "socks5") {
			return untrusted("cluster", name, "proxy-url", "only http, https and socks5 proxies are used")
		}
	}
	return nil
}

// checkUser refuses a user entry that would run a command, read a local
// file, or authenticate other than with an inline token or certificate.
func checkUser(name string, u *clientcmdapi.AuthInfo) error {
	switch {
	case u.Exec != nil:
		return untrusted("user", name, "exec", "it names a command to run")
	case u.AuthProvider != nil:
		return untrusted("user", name, "auth-provider", "it names a plugin to run")
	case u.TokenFile != "":
		return untrusted("user", name, "tokenFile", "a path on the machine that reads the kubeconfig; give the token inline")
	case u.ClientCertificate != "":
		return untrusted("user", name, "client-certificate", "a path on the machine that reads the kubeconfig; give client-certificate-data")
	case u.ClientKey != "":
		return untrusted("user", name, "client-key", "a path on the machine that reads the kubeconfig; give client-key-data")
	case u.Username != "" || u.Password != "":
		return untrusted("user", name, "username/password", "basic authentication is not used; give a token")
	case u.Impersonate != "" || u.ImpersonateUID != "" || len(u.ImpersonateGroups) > 0 || len(u.ImpersonateUserExtra) > 0:
		return untrusted("user", name, "as", "impersonation is not used")
	}
	hasCert := len(u.ClientCertificateData) > 0 || len(u.ClientKeyData) > 0
	switch {
	case u.Token == "" && !hasCert:
		return fmt.Errorf("user %q has neither a token nor a client certificate", name)
	case hasCert && (len(u.ClientCertificateData) == 0 || len(u.ClientKeyData) == 0):
		return fmt.Errorf("user %q has a client certificate without its key, or a key without its certificate", name)
	}
	return nil
}

func untrusted(kind, name, field, why string) error {
	return fmt.Errorf("%s %q sets %s (%s): %w", kind, name, field, strings.TrimSpace(why), ErrUntrustedField)
}
