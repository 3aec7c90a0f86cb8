package membership

import (
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kfed-dev/kfed/pkg/store"
)

// MemberAccess is how the user reaches a member, read from a kubeconfig
// context: the client configuration join works with, and the connection
// settings (without any credential) it stores for kfed's identities.
type MemberAccess struct {
	// Context is the kubeconfig context's name, for messages.
	Context string
	// Config carries the user's own credentials for the member.
	Config *rest.Config
	// Connection is the member's server, CA and TLS settings, with no
	// token yet.
	Connection store.Credential
}

// AccessFromKubeconfig reads a context of raw. server, when set, replaces
// the context's server in what is stored for kfed's identities: the address
// the host and coredns-fed use may differ from the one this machine uses.
//
// TLS verification stays as the context has it: on, unless the context
// itself turns it off.
func AccessFromKubeconfig(raw clientcmdapi.Config, context, server string) (*MemberAccess, error) {
	kctx, ok := raw.Contexts[context]
	if !ok {
		return nil, fmt.Errorf("context %q does not exist in the kubeconfig", context)
	}
	cluster, ok := raw.Clusters[kctx.Cluster]
	if !ok {
		return nil, fmt.Errorf("context %q names cluster %q, which does not exist in the kubeconfig", context, kctx.Cluster)
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(raw, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("context %q: %w", context, err)
	}
	ca := cluster.CertificateAuthorityData
	if len(ca) == 0 && cluster.CertificateAuthority != "" {
		if ca, err = os.ReadFile(cluster.CertificateAuthority); err != nil {
			return nil, fmt.Errorf("context %q: reading its certificate authority: %w", context, err)
		}
	}
	conn := store.Credential{
		Server:                cluster.Server,
		CAData:                ca,
		TLSServerName:         cluster.TLSServerName,
		InsecureSkipTLSVerify: cluster.InsecureSkipTLSVerify,
		ProxyURL:              cluster.ProxyURL,
	}
	if server != "" {
		conn.Server = server
	}
	return &MemberAccess{Context: context, Config: cfg, Connection: conn}, nil
}
