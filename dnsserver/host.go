package dnsserver

import (
	"context"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/pkg/geo"
	"github.com/kfed-dev/kfed/pkg/store"
)

// hostWatch watches the host for one federation: its Federation object,
// whose creation time is the SOA serial, its Clusters, and their DNS-reader
// credential Secrets.
type hostWatch struct {
	reach
	// name is the federation's, and namespace and secretsNamespace are
	// where its objects and its readers' credentials are.
	name, namespace, secretsNamespace string

	federation cache.SharedIndexInformer
	clusters   cache.SharedIndexInformer
	secrets    cache.SharedIndexInformer
	// changed is set by every event of the host, and cleared when the
	// snapshot has been written from it.
	changed atomic.Bool
}

// hostState is what the host says of the federation: from the host's
// caches once they have synced, or until then from the snapshot.
type hostState struct {
	// serial is the Federation's creation time in unix seconds, the SOA
	// serial; 0 when the Federation is unknown.
	serial  uint32
	members []hostMember
	// keySet is the DNSSEC key set's Secret data, nil when there is none.
	keySet []byte
	// snapshot is set when the state is the snapshot's.
	snapshot bool
}

// hostMember is one Cluster of the federation with its DNS-reader
// credential.
type hostMember struct {
	cluster Cluster
	// secret is the credential Secret's namespace/name, for messages.
	secret string
	// kubeconfig is the Secret's kubeconfig: nil when the Secret is
	// missing, empty when it holds none.
	kubeconfig []byte
	// services are what the member serves, as the snapshot keeps them:
	// nil when unknown, as it always is from the host.
	services []servedService
}

// newHostWatch prepares the watches of the federation's objects in the host
// that s reaches. onChange is called on every change.
func newHostWatch(s *store.Store, federation string, onChange func()) *hostWatch {
	h := &hostWatch{
		reach:            reach{what: "the host", onChange: onChange},
		name:             federation,
		namespace:        s.Namespace,
		secretsNamespace: s.DNSNamespace,
	}

	// One object, by name: every server of the federation reads the same
	// creation time, so all of them give the same serial at any moment.
	byName := fields.OneTermEqualSelector("metadata.name", federation).String()
	feds := s.Federations
	h.federation = h.informer(&v1alpha1.Federation{}, func(o *metav1.ListOptions) { o.FieldSelector = byName },
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return feds.List(ctx, o) },
		feds.Watch)

	clusters := s.Clusters
	bySpec := fields.OneTermEqualSelector("spec.federation", federation).String()
	h.clusters = h.informer(&v1alpha1.Cluster{}, func(o *metav1.ListOptions) { o.FieldSelector = bySpec },
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return clusters.List(ctx, o) },
		clusters.Watch)

	// Only the DNS readers' credentials and the zone's DNSSEC keys, which
	// are in a namespace of their own: coredns-fed has no business with
	// the managers', and its RBAC keeps it from them. The label keeps out
	// whatever else someone puts there.
	identities, _ := labels.NewRequirement(v1alpha1.LabelIdentity, selection.In, []string{v1alpha1.IdentityDNSReader, dnssec.IdentityDNSSEC})
	readers := labels.NewSelector().Add(*identities).String()
	secrets := s.Kube.CoreV1().Secrets(s.DNSNamespace)
	h.secrets = h.informer(&corev1.Secret{}, func(o *metav1.ListOptions) { o.LabelSelector = readers },
		func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return secrets.List(ctx, o) },
		secrets.Watch)
	return h
}

// informer returns an informer of obj's kind from list and watch calls,
// with sel narrowing every request to what the federation needs.
func (h *hostWatch) informer(obj runtime.Object, sel func(*metav1.ListOptions),
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error)) cache.SharedIndexInformer {
	return cache.NewSharedIndexInformer(
		h.listWatch(
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				sel(&o)
				return list(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				sel(&o)
				return watchFn(ctx, o)
			}),
		obj, 0, cache.Indexers{})
}

func (h *hostWatch) informers() []cache.SharedIndexInformer {
	return []cache.SharedIndexInformer{h.federation, h.clusters, h.secrets}
}

// start runs the informers until ctx ends, counting them in wg.
func (h *hostWatch) start(ctx context.Context, wg *sync.WaitGroup) error {
	changed := func() {
		h.changed.Store(true)
		h.onChange()
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { changed() },
		UpdateFunc: func(any, any) { changed() },
		DeleteFunc: func(any) { changed() },
	}
	for _, inf := range h.informers() {
		// Set before Run, so these cannot fail.
		_ = inf.SetWatchErrorHandlerWithContext(h.watchError(ctx))
		_ = inf.SetTransform(trim)
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	for _, inf := range h.informers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inf.RunWithContext(ctx)
		}()
	}
	return nil
}

// synced reports whether every cache holds a full list. It stays true
// while the host is unreachable: the caches keep what it last said.
func (h *hostWatch) synced() bool {
	for _, inf := range h.informers() {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// state reads the caches.
func (h *hostWatch) state() hostState {
	var st hostState
	if obj, ok, _ := h.federation.GetStore().GetByKey(h.namespace + "/" + h.name); ok {
		if f, ok := obj.(*v1alpha1.Federation); ok {
			st.serial = f.Serial()
		}
	}
	for _, obj := range h.clusters.GetStore().List() {
		cl, ok := obj.(*v1alpha1.Cluster)
		if !ok || cl.Spec.Federation != h.name {
			continue
		}
		m := hostMember{
			cluster: Cluster{Name: cl.Name, Region: cl.Spec.Region, Zone: cl.Spec.Zone, Location: clusterLocation(cl)},
			secret:  h.secretsNamespace + "/" + cl.Spec.Credentials.DNSReader.Name,
		}
		if s := h.cachedSecret(m.secret); s != nil {
			m.kubeconfig = s.Data[v1alpha1.SecretKeyKubeconfig]
			if m.kubeconfig == nil {
				m.kubeconfig = []byte{}
			}
		}
		st.members = append(st.members, m)
	}
	if s := h.cachedSecretOf(h.secretsNamespace+"/"+dnssec.SecretName, dnssec.IdentityDNSSEC); s != nil {
		st.keySet = s.Data[dnssec.SecretKey]
	}
	return st
}

// cachedSecret returns the DNS-reader credential Secret namespace/name as
// the cache holds it, or nil. It is the cache's own object: copy it before
// changing it.
func (h *hostWatch) cachedSecret(key string) *corev1.Secret {
	return h.cachedSecretOf(key, v1alpha1.IdentityDNSReader)
}

// cachedSecretOf returns the Secret namespace/name as the cache holds it,
// if it is labelled for identity, or nil: a Cluster that names the key
// set's Secret as its credential gets none.
func (h *hostWatch) cachedSecretOf(key, identity string) *corev1.Secret {
	obj, ok, _ := h.secrets.GetStore().GetByKey(key)
	if !ok {
		return nil
	}
	s, _ := obj.(*corev1.Secret)
	if s == nil || s.Labels[v1alpha1.LabelIdentity] != identity {
		return nil
	}
	return s
}

// clusterLocation returns where a member is: its Cluster's coordinates, or
// those of its region when pkg/geo knows it.
func clusterLocation(cl *v1alpha1.Cluster) Location {
	if cl.Spec.Location != nil {
		lat, lon, err := cl.Spec.Location.Coordinates()
		if err == nil {
			return Location{Latitude: lat, Longitude: lon, Known: true}
		}
	}
	if r, ok := geo.Lookup(cl.Spec.Region); ok {
		return Location{Latitude: r.Latitude, Longitude: r.Longitude, Known: true}
	}
	return Location{}
}
