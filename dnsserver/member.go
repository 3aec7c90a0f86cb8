package dnsserver

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/kube"
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

	mu sync.Mutex
	// dirty are the Services (namespace/name) that events touched since
	// the last takeDirty.
	dirty map[string]struct{}
}

// startMemberWatch starts watching a member. onChange is called on every
// change of what it watches.
func startMemberWatch(name string, cfg *rest.Config, onChange func()) (*memberWatch, error) {
	client, err := kube.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &memberWatch{
		reach:   reach{what: "cluster " + name, onChange: onChange},
		started: time.Now(),
		cancel:  cancel,
		dirty:   map[string]struct{}{},
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

	// Each event names the Service it touches, so that a pass reads
	// again only those Services.
	handlers := map[cache.SharedIndexInformer]cache.ResourceEventHandler{
		w.services: w.handler(serviceOf, onChange),
		w.slices:   w.handler(sliceServiceOf, onChange),
	}
	for _, inf := range []cache.SharedIndexInformer{w.services, w.slices} {
		// Set before Run, so these cannot fail.
		_ = inf.SetWatchErrorHandlerWithContext(w.watchError(ctx))
		_ = inf.SetTransform(trim)
		if _, err := inf.AddEventHandler(handlers[inf]); err != nil {
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
	Service *serviceRecord `json:"service"`
	Ready   bool           `json:"ready"`
}

// handler returns an event handler that marks the Service that keyOf
// finds in each object dirty, then calls onChange.
func (w *memberWatch) handler(keyOf func(any) string, onChange func()) cache.ResourceEventHandler {
	mark := func(objs ...any) {
		w.mu.Lock()
		for _, obj := range objs {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if key := keyOf(obj); key != "" {
				w.dirty[key] = struct{}{}
			}
		}
		w.mu.Unlock()
		onChange()
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { mark(obj) },
		// An EndpointSlice may move to another Service: both change.
		UpdateFunc: func(old, cur any) { mark(old, cur) },
		DeleteFunc: func(obj any) { mark(obj) },
	}
}

// takeDirty returns the Services that changed since the last call.
func (w *memberWatch) takeDirty() map[string]struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := w.dirty
	w.dirty = map[string]struct{}{}
	return d
}

// servedService returns a Service of the caches, by namespace/name, if it
// is served.
func (w *memberWatch) servedService(key string) (servedService, bool) {
	obj, ok, _ := w.services.GetStore().GetByKey(key)
	svc, _ := obj.(*serviceRecord)
	if !ok || svc == nil || !served(svc) {
		return servedService{}, false
	}
	eps, _ := w.slices.GetIndexer().ByIndex(byService, key)
	return servedService{Service: svc, Ready: anyReady(eps)}, true
}

// servedServices lists the served Services in the caches: a walk over
// every Service of the member, done once when its watch has synced.
func (w *memberWatch) servedServices() []servedService {
	out := []servedService{}
	for _, key := range w.services.GetStore().ListKeys() {
		if s, ok := w.servedService(key); ok {
			out = append(out, s)
		}
	}
	return out
}

// serviceOf is the key of a Service object.
func serviceOf(obj any) string {
	svc, ok := obj.(*serviceRecord)
	if !ok {
		return ""
	}
	return svc.key()
}

// trim keeps in the caches only what answers need: a member may hold
// thousands of Services and EndpointSlices, and of them only names,
// ports, addresses, kfed annotations and whether an endpoint is ready
// matter here. Members' objects are copied into new, small ones, so that
// nothing else of the decoded object stays reachable; of the host's
// objects it drops the managed fields.
func trim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Service:
		return recordOf(o), nil
	case *discoveryv1.EndpointSlice:
		return summarize(o), nil
	case *corev1.Secret:
		o.ManagedFields = nil
	case *v1alpha1.Cluster:
		o.ManagedFields = nil
	case *v1alpha1.Federation:
		o.ManagedFields = nil
	}
	return obj, nil
}

// memberMetrics refreshes the members' sync states, and the last sync of
// the host and of each member that is synced and answering.
func (c *controller) memberMetrics() {
	now := float64(time.Now().UnixMilli()) / 1000
	if c.host.synced() && !c.host.failing.Load() {
		hostLastSync.WithLabelValues(c.server).Set(now)
	}
	for name, e := range c.members {
		state := stateNoCredentials
		if e.current != nil {
			state = e.current.state()
		}
		setMemberState(c.server, name, state)
		if state == stateSynced {
			memberLastSync.WithLabelValues(c.server, name).Set(now)
		}
	}
}

// memberConfig tunes a member's client configuration: a dial timeout, so
// that an unreachable member fails instead of holding back readiness,
// coredns-fed's user agent, and protobuf, which members' API servers
// encode and coredns-fed decodes several times faster than JSON: at
// thousands of Services a member, that is most of the time to sync.
func memberConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "coredns-fed"
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.Dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	cfg.QPS, cfg.Burst = 20, 40
	return cfg
}
