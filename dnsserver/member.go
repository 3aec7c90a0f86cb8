package dnsserver

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// byService indexes EndpointSlices by the namespace/name of their Service.
const byService = "service"

// reach follows whether a watched API server answers: every list and watch
// call reports to it, and it tells its owner when that changes.
type reach struct {
	what     string // for logs: "host" or "cluster usa"
	onChange func()
	failing  atomic.Bool
}

// observe records the result of a list or watch call.
func (r *reach) observe(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		if r.failing.CompareAndSwap(true, false) {
			log.Infof("The API server of %s answers again", r.what)
			r.onChange()
		}
		return
	}
	if r.failing.CompareAndSwap(false, true) {
		// Client errors name the URL and the failure, never the token.
		log.Warningf("The API server of %s does not answer, serving what it last said: %v", r.what, err)
		r.onChange()
	}
}

// watchError is the informers' WatchErrorHandler: a watch that ends is
// normal, one that fails is a reach failure.
func (r *reach) watchError(ctx context.Context) cache.WatchErrorHandlerWithContext {
	return func(_ context.Context, _ *cache.Reflector, err error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
			return
		}
		r.observe(ctx, err)
	}
}

// listWatch wraps list and watch calls so that reach sees their results.
func (r *reach) listWatch(
	list func(context.Context, metav1.ListOptions) (runtime.Object, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) *cache.ListWatch {
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			obj, err := list(ctx, opts)
			r.observe(ctx, err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			w, err := watchFn(ctx, opts)
			r.observe(ctx, err)
			return w, err
		},
	}
}

// memberWatch watches one member's Services and EndpointSlices with the
// DNS reader's credential.
type memberWatch struct {
	reach
	services cache.SharedIndexInformer
	slices   cache.SharedIndexInformer
	started  time.Time
	cancel   context.CancelFunc
	done     sync.WaitGroup
}

// startMemberWatch starts watching a member. onChange is called on every
// change of what it watches.
func startMemberWatch(name string, cfg *rest.Config, onChange func()) (*memberWatch, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &memberWatch{
		reach:   reach{what: "cluster " + name, onChange: onChange},
		started: time.Now(),
		cancel:  cancel,
	}
	svcs := client.CoreV1().Services(metav1.NamespaceAll)
	w.services = cache.NewSharedIndexInformer(
		w.listWatch(
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return svcs.List(ctx, o) },
			svcs.Watch),
		&corev1.Service{}, 0, cache.Indexers{})
	slices := client.DiscoveryV1().EndpointSlices(metav1.NamespaceAll)
	w.slices = cache.NewSharedIndexInformer(
		w.listWatch(
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return slices.List(ctx, o) },
			slices.Watch),
		&discoveryv1.EndpointSlice{}, 0, cache.Indexers{byService: sliceService})

	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(old, cur any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	for _, inf := range []cache.SharedIndexInformer{w.services, w.slices} {
		// Set before Run, so these cannot fail.
		_ = inf.SetWatchErrorHandlerWithContext(w.watchError(ctx))
		_ = inf.SetTransform(trim)
		if _, err := inf.AddEventHandler(handler); err != nil {
			cancel()
			return nil, err
		}
	}
	for _, inf := range []cache.SharedIndexInformer{w.services, w.slices} {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			inf.RunWithContext(ctx)
		}()
	}
	return w, nil
}

// synced reports whether both caches hold a full list.
func (w *memberWatch) synced() bool { return w.services.HasSynced() && w.slices.HasSynced() }

// state is the member's sync state, for metrics.
func (w *memberWatch) state() string {
	switch {
	case w.failing.Load():
		return stateUnreachable
	case w.synced():
		return stateSynced
	}
	return stateSyncing
}

// settled reports whether the member no longer holds back readiness: it
// synced, it failed (it is unreachable, and there is nothing to wait for),
// or it took longer than timeout.
func (w *memberWatch) settled(timeout time.Duration) bool {
	return w.synced() || w.failing.Load() || time.Since(w.started) > timeout
}

// stop stops the watch and waits for its informers.
func (w *memberWatch) stop() {
	w.cancel()
	w.done.Wait()
}

// servedService is a served Service of a member, and whether it has a
// ready endpoint: what answers are built from, and what the snapshot keeps
// of a member.
type servedService struct {
	Service *corev1.Service `json:"service"`
	Ready   bool            `json:"ready"`
}

// servedServices lists the served Services in the caches, by namespace and
// name; never nil, since an empty list is known to be empty.
func (w *memberWatch) servedServices() []servedService {
	out := []servedService{}
	for _, obj := range w.services.GetStore().List() {
		svc, ok := obj.(*corev1.Service)
		if !ok || !served(svc) {
			continue
		}
		eps, _ := w.slices.GetIndexer().ByIndex(byService, svc.Namespace+"/"+svc.Name)
		out = append(out, servedService{Service: svc, Ready: readyEndpoints(eps) > 0})
	}
	slices.SortFunc(out, func(a, b servedService) int {
		return cmp.Or(cmp.Compare(a.Service.Namespace, b.Service.Namespace), cmp.Compare(a.Service.Name, b.Service.Name))
	})
	return out
}

// readMembers reads every known member into Members, with each entry
// point's health decided, and returns the probe targets found.
func (c *controller) readMembers() ([]Member, map[probeTarget]struct{}) {
	targets := map[probeTarget]struct{}{}
	members := make([]Member, 0, len(c.members))
	for _, e := range c.members {
		if w := e.current; w != nil && w.synced() {
			e.services, e.known = w.servedServices(), true
		}
		if !e.known {
			// A partial cache would answer partially; a member counts
			// once it has listed everything, or the snapshot has.
			continue
		}
		m := Member{Cluster: e.cluster}
		total, healthy := 0, 0
		for _, s := range e.services {
			ms := memberService(s.Service, c.opts.ExternalIPs)
			for i := range ms.EntryPoints {
				ep := &ms.EntryPoints[i]
				ep.Healthy = s.Ready
				if t, ok := probeFor(e.cluster.Name, s.Service, *ep); ok {
					targets[t] = struct{}{}
					up, _ := c.prober.Status(t)
					ep.Healthy = s.Ready && up
				}
				total++
				if ep.Healthy {
					healthy++
				}
			}
			m.Services = append(m.Services, ms)
		}
		entryPoints.WithLabelValues(c.server, e.cluster.Name).Set(float64(total))
		healthyEntryPoints.WithLabelValues(c.server, e.cluster.Name).Set(float64(healthy))
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b Member) int { return cmp.Compare(a.Name, b.Name) })
	return members, targets
}

// sliceService is the byService index function.
func sliceService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + name}, nil
}

// trim keeps in the caches only what answers need: a member may hold
// thousands of Services and EndpointSlices, and only their names, ports,
// addresses, kfed annotations and endpoint conditions matter here. Of the
// host's objects it drops the managed fields.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Service:
		o.ManagedFields = nil
		for k := range o.Annotations {
			if !isKfedKey(k) {
				delete(o.Annotations, k)
			}
		}
		o.Labels = nil
		o.Spec.Selector = nil
	case *corev1.Secret:
		o.ManagedFields = nil
	case *v1alpha1.Cluster:
		o.ManagedFields = nil
	case *v1alpha1.Federation:
		o.ManagedFields = nil
	case *discoveryv1.EndpointSlice:
		o.ManagedFields = nil
		o.Annotations = nil
		o.Ports = nil
		for i := range o.Endpoints {
			o.Endpoints[i] = discoveryv1.Endpoint{Conditions: o.Endpoints[i].Conditions}
		}
	}
	return obj, nil
}

func isKfedKey(k string) bool {
	const prefix = "kfed.dev/"
	return len(k) > len(prefix) && k[:len(prefix)] == prefix
}
