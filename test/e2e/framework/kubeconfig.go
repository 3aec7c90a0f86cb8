package framework

import (
	"context"
	"path/filepath"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/lab"
)

// ServiceAccountKubeconfig writes to path a kubeconfig that reaches the
// cluster c as the ServiceAccount namespace/name, with an hour's token from
// the TokenRequest API: what a pod of that ServiceAccount gets projected.
func ServiceAccountKubeconfig(ctx context.Context, c *lab.Cluster, namespace, name, path string) error {
	tr, err := c.Client().CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: tr.Status.Token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: name, Namespace: namespace}
	cfg.CurrentContext = name
	return clientcmd.WriteToFile(*cfg, path)
}

// MergeKubeconfigs writes one kubeconfig holding the contexts of both, in a
// directory of the test's, and returns its path.
func MergeKubeconfigs(t testing.TB, a, b string) string {
	t.Helper()
	cfg, err := (&clientcmd.ClientConfigLoadingRules{Precedence: []string{a, b}}).Load()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}
