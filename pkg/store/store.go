// Package store is the federation's store: the kfed.dev objects and the
// managers' credential Secrets in the host cluster's namespace kfed-system,
// and the DNS readers' credential Secrets in its namespace kfed-dns. The
// host's API server is the only store kfed has.
package store

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/kube"
)

// Scheme knows the kfed.dev kinds, for decoding and printing.
var Scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(v1alpha1.AddToScheme(Scheme))
}

// FederationClient reads and writes Federations in one namespace.
type FederationClient = gentype.ClientWithList[*v1alpha1.Federation, *v1alpha1.FederationList]

// ClusterClient reads and writes Clusters in one namespace.
type ClusterClient = gentype.ClientWithList[*v1alpha1.Cluster, *v1alpha1.ClusterList]

// Store is the host side of kfed.
type Store struct {
	// Namespace is where kfed keeps its objects: v1alpha1.Namespace.
	Namespace string
	// DNSNamespace is where the DNS readers' credentials are kept, apart
	// from everything else: v1alpha1.DNSNamespace.
	DNSNamespace string
	// Kube is a client of the host's built-in resources that kfed keeps
	// its credentials and markers in.
	Kube *kube.Client
	// Federations and Clusters are typed clients of the kfed.dev kinds.
	Federations *FederationClient
	Clusters    *ClusterClient
	// Config is the host's client configuration.
	Config *rest.Config
}

// New returns a Store for the host that cfg reaches.
func New(cfg *rest.Config) (*Store, error) {
	return NewIn(cfg, v1alpha1.Namespace, v1alpha1.DNSNamespace)
}

// NewIn returns a Store for the host that cfg reaches whose objects are in
// namespace and whose DNS readers' credentials are in dnsNamespace, for a
// coredns-fed told to look there.
func NewIn(cfg *rest.Config, namespace, dnsNamespace string) (*Store, error) {
	kc, err := kube.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	kfedCfg := rest.CopyConfig(cfg)
	kfedCfg.GroupVersion = &v1alpha1.SchemeGroupVersion
	kfedCfg.APIPath = "/apis"
	kfedCfg.ContentType = runtime.ContentTypeJSON
	kfedCfg.NegotiatedSerializer = serializer.NewCodecFactory(Scheme).WithoutConversion()
	if kfedCfg.UserAgent == "" {
		kfedCfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(kfedCfg)
	if err != nil {
		return nil, err
	}
	params := runtime.NewParameterCodec(Scheme)
	return &Store{
		Namespace:    namespace,
		DNSNamespace: dnsNamespace,
		Kube:         kc,
		Config:       cfg,
		Federations: gentype.NewClientWithList[*v1alpha1.Federation, *v1alpha1.FederationList](
			"federations", rc, params, namespace,
			func() *v1alpha1.Federation { return &v1alpha1.Federation{} },
			func() *v1alpha1.FederationList { return &v1alpha1.FederationList{} }),
		Clusters: gentype.NewClientWithList[*v1alpha1.Cluster, *v1alpha1.ClusterList](
			"clusters", rc, params, namespace,
			func() *v1alpha1.Cluster { return &v1alpha1.Cluster{} },
			func() *v1alpha1.ClusterList { return &v1alpha1.ClusterList{} }),
	}, nil
}

// ErrNotInitialized is returned when the host has no kfed CRDs.
var ErrNotInitialized = fmt.Errorf("kfed is not initialised in this host cluster: run `kubectl fed init NAME --domain DOMAIN` first")

// notInitialized tells a missing CRD (the resource is unknown) from a missing
// object, both of which the API server answers with 404.
func notInitialized(err error) bool {
	if !apierrors.IsNotFound(err) {
		return false
	}
	st, ok := err.(apierrors.APIStatus)
	return ok && (st.Status().Details == nil || st.Status().Details.Name == "")
}

// Federation returns the federation named name, or, when name is empty, the
// only federation of the host.
func (s *Store) Federation(ctx context.Context, name string) (*v1alpha1.Federation, error) {
	if name != "" {
		f, err := s.Federations.Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			return f, nil
		case notInitialized(err):
			return nil, ErrNotInitialized
		case apierrors.IsNotFound(err):
			list, _ := s.federations(ctx)
			names := federationNames(list)
			if len(names) == 0 {
				return nil, fmt.Errorf("federation %q not found: the host has no federation; create it with `kubectl fed init %s --domain DOMAIN`", name, name)
			}
			return nil, fmt.Errorf("federation %q not found; the host has: %s", name, strings.Join(names, ", "))
		default:
			return nil, err
		}
	}
	list, err := s.federations(ctx)
	if err != nil {
		return nil, err
	}
	switch len(list) {
	case 0:
		return nil, fmt.Errorf("the host has no federation: create one with `kubectl fed init NAME --domain DOMAIN`")
	case 1:
		// The list read it whole: no need to ask again.
		return &list[0], nil
	}
	return nil, fmt.Errorf("the host holds several federations (%s): choose one with --federation", strings.Join(federationNames(list), ", "))
}

// federations lists the host's federations.
func (s *Store) federations(ctx context.Context) ([]v1alpha1.Federation, error) {
	list, err := s.Federations.List(ctx, metav1.ListOptions{})
	if err != nil {
		if notInitialized(err) {
			return nil, ErrNotInitialized
		}
		return nil, err
	}
	return list.Items, nil
}

// federationNames returns the names of feds, sorted.
func federationNames(feds []v1alpha1.Federation) []string {
	names := make([]string, 0, len(feds))
	for _, f := range feds {
		names = append(names, f.Name)
	}
	sort.Strings(names)
	return names
}

// Members returns the Clusters of a federation, sorted by name.
func (s *Store) Members(ctx context.Context, federation string) ([]v1alpha1.Cluster, error) {
	list, err := s.Clusters.List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.federation", federation).String(),
	})
	if err != nil {
		if notInitialized(err) {
			return nil, ErrNotInitialized
		}
		return nil, err
	}
	out := list.Items
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// EnsureNamespace creates the host namespace name, labelled as kfed's,
// unless it is there. One that is there is passed to update, and saved if
// update changed it. It says which it did as kubectl apply would:
// "created", "configured" or "unchanged".
func (s *Store) EnsureNamespace(ctx context.Context, name string, update func(*corev1.Namespace) bool) (string, error) {
	nss := s.Kube.CoreV1().Namespaces()
	ns, err := nss.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = nss.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name:   name,
			Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedBy},
		}}, metav1.CreateOptions{FieldManager: v1alpha1.FieldManager})
		if err == nil {
			return "created", nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("creating namespace %s in the host: %w", name, err)
		}
		// Another init or join made it meanwhile.
		ns, err = nss.Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		return "", fmt.Errorf("reading namespace %s in the host: %w", name, err)
	}
	if ns.DeletionTimestamp != nil {
		return "", fmt.Errorf("namespace %s in the host is being deleted: wait until it is gone and try again", name)
	}
	if !update(ns) {
		return "unchanged", nil
	}
	if _, err := nss.Update(ctx, ns, metav1.UpdateOptions{FieldManager: v1alpha1.FieldManager}); err != nil {
		return "", fmt.Errorf("updating namespace %s in the host: %w", name, err)
	}
	return "configured", nil
}

// EnsureDNSNamespace makes sure of DNSNamespace, labelled as kfed's even
// when someone else made it. Init makes it; join makes sure of it too, for
// hosts initialised before it existed.
func (s *Store) EnsureDNSNamespace(ctx context.Context) (string, error) {
	return s.EnsureNamespace(ctx, s.DNSNamespace, func(ns *corev1.Namespace) bool {
		if ns.Labels[v1alpha1.LabelManagedBy] == v1alpha1.ManagedBy {
			return false
		}
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedBy
		return true
	})
}

// NamespaceGetter reads a Namespace: the Namespaces client of client-go's
// clientset, or of package kube.
type NamespaceGetter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Namespace, error)
}

// ClusterID returns the identity of the cluster whose Namespaces a client
// reads: the UID of its kube-system namespace, which lives as long as the
// cluster does.
func ClusterID(ctx context.Context, namespaces NamespaceGetter) (string, error) {
	ns, err := namespaces.Get(ctx, metav1.NamespaceSystem, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return string(ns.UID), nil
}
