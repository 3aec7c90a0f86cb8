// Package kube is a client of the few built-in resources that the host
// side of kfed and coredns-fed read and write: Secrets, ConfigMaps,
// Namespaces, ServiceAccounts and their tokens, Services and
// EndpointSlices. It stands where client-go's clientset would: that
// clientset brings in every API group Kubernetes serves, their apply
// configurations and their registration at start, which made coredns-fed's
// binary a third larger and, since a process's resident memory counts the
// pages of its binary that start-up touches, cost it memory at every size
// of federation. The clients have the clientset's methods, so code reads
// the same: c.CoreV1().Secrets(ns).Get(ctx, name, opts).
package kube

import (
	"context"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
)

// Scheme knows the kinds this package's clients read and write.
var Scheme = runtime.NewScheme()

// ParameterCodec encodes the options of the clients' requests.
var ParameterCodec = runtime.NewParameterCodec(Scheme)

func init() {
	utilruntime.Must(corev1.AddToScheme(Scheme))
	utilruntime.Must(discoveryv1.AddToScheme(Scheme))
	utilruntime.Must(authenticationv1.AddToScheme(Scheme))
}

// Client reaches one API server.
type Client struct {
	core, discovery *rest.RESTClient
}

// NewForConfig returns a Client of the API server that cfg reaches.
func NewForConfig(cfg *rest.Config) (*Client, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	core, err := restClient(cfg, corev1.SchemeGroupVersion, "/api", httpClient)
	if err != nil {
		return nil, err
	}
	disc, err := restClient(cfg, discoveryv1.SchemeGroupVersion, "/apis", httpClient)
	if err != nil {
		return nil, err
	}
	return &Client{core: core, discovery: disc}, nil
}

// restClient returns a client of one group version, as the clientset's
// typed clients are set up: JSON or protobuf, as cfg says.
func restClient(cfg *rest.Config, gv schema.GroupVersion, apiPath string, hc *http.Client) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = apiPath
	c.NegotiatedSerializer = serializer.NewCodecFactory(Scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientForConfigAndClient(c, hc)
}

// CoreV1 returns the clients of the core group.
func (c *Client) CoreV1() *CoreV1 { return &CoreV1{rc: c.core} }

// DiscoveryV1 returns the clients of discovery.k8s.io/v1.
func (c *Client) DiscoveryV1() *DiscoveryV1 { return &DiscoveryV1{rc: c.discovery} }

// CoreV1 is the core group, v1.
type CoreV1 struct{ rc *rest.RESTClient }

// RESTClient returns the client the typed clients use.
func (c *CoreV1) RESTClient() rest.Interface { return c.rc }

// Secrets returns a client of the Secrets in namespace.
func (c *CoreV1) Secrets(namespace string) *gentype.ClientWithList[*corev1.Secret, *corev1.SecretList] {
	return gentype.NewClientWithList("secrets", c.rc, ParameterCodec, namespace,
		func() *corev1.Secret { return &corev1.Secret{} }, func() *corev1.SecretList { return &corev1.SecretList{} })
}

// ConfigMaps returns a client of the ConfigMaps in namespace.
func (c *CoreV1) ConfigMaps(namespace string) *gentype.ClientWithList[*corev1.ConfigMap, *corev1.ConfigMapList] {
	return gentype.NewClientWithList("configmaps", c.rc, ParameterCodec, namespace,
		func() *corev1.ConfigMap { return &corev1.ConfigMap{} }, func() *corev1.ConfigMapList { return &corev1.ConfigMapList{} })
}

// Namespaces returns a client of Namespaces.
func (c *CoreV1) Namespaces() *gentype.ClientWithList[*corev1.Namespace, *corev1.NamespaceList] {
	return gentype.NewClientWithList("namespaces", c.rc, ParameterCodec, "",
		func() *corev1.Namespace { return &corev1.Namespace{} }, func() *corev1.NamespaceList { return &corev1.NamespaceList{} })
}

// Services returns a client of the Services in namespace, all for "".
func (c *CoreV1) Services(namespace string) *gentype.ClientWithList[*corev1.Service, *corev1.ServiceList] {
	return gentype.NewClientWithList("services", c.rc, ParameterCodec, namespace,
		func() *corev1.Service { return &corev1.Service{} }, func() *corev1.ServiceList { return &corev1.ServiceList{} })
}

// ServiceAccounts returns a client of the ServiceAccounts in namespace.
func (c *CoreV1) ServiceAccounts(namespace string) *ServiceAccounts {
	return &ServiceAccounts{
		ClientWithList: gentype.NewClientWithList("serviceaccounts", c.rc, ParameterCodec, namespace,
			func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} },
			func() *corev1.ServiceAccountList { return &corev1.ServiceAccountList{} }),
		rc: c.rc, namespace: namespace,
	}
}

// ServiceAccounts is the client of ServiceAccounts, and of their tokens.
type ServiceAccounts struct {
	*gentype.ClientWithList[*corev1.ServiceAccount, *corev1.ServiceAccountList]
	rc        *rest.RESTClient
	namespace string
}

// CreateToken asks for a token of ServiceAccount name (TokenRequest).
func (s *ServiceAccounts) CreateToken(ctx context.Context, name string, req *authenticationv1.TokenRequest, opts metav1.CreateOptions) (*authenticationv1.TokenRequest, error) {
	out := &authenticationv1.TokenRequest{}
	err := s.rc.Post().Namespace(s.namespace).Resource("serviceaccounts").Name(name).SubResource("token").
		VersionedParams(&opts, ParameterCodec).Body(req).Do(ctx).Into(out)
	return out, err
}

// DiscoveryV1 is discovery.k8s.io/v1.
type DiscoveryV1 struct{ rc *rest.RESTClient }

// EndpointSlices returns a client of the EndpointSlices in namespace, all
// for "".
func (c *DiscoveryV1) EndpointSlices(namespace string) *gentype.ClientWithList[*discoveryv1.EndpointSlice, *discoveryv1.EndpointSliceList] {
	return gentype.NewClientWithList("endpointslices", c.rc, ParameterCodec, namespace,
		func() *discoveryv1.EndpointSlice { return &discoveryv1.EndpointSlice{} },
		func() *discoveryv1.EndpointSliceList { return &discoveryv1.EndpointSliceList{} })
}
