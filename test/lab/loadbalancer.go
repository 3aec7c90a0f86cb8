package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// AnnotationListen set to "false" on a LoadBalancer Service makes the lab's
// load balancer give the Service an address but open no listener on it, so
// that a test can serve the Service's ports itself on that address: a
// coredns-fed standing in for the Service's pods on port 53, say, which the
// load balancer's HTTP listener would otherwise hold. It exists only in the
// lab; any other value, or none, means the load balancer listens.
const AnnotationListen = "lab.kfed.dev/listen"

const (
	// lbClusterHeader names the cluster that answered, so a test that goes
	// through DNS or a health check can tell which cluster it reached.
	lbClusterHeader = "X-Kfed-Lab-Cluster"

	// lbReadHeaderTimeout keeps a stuck client from pinning a connection.
	lbReadHeaderTimeout = 5 * time.Second

	// A failed sync (port busy, API server down) is retried with a backoff
	// capped low enough that a test sees recovery within seconds.
	lbRetryBaseDelay = 50 * time.Millisecond
	lbRetryMaxDelay  = 5 * time.Second
)

// loadBalancer is the loopback load-balancer controller of one lab cluster.
type loadBalancer struct {
	cluster string
	client  kubernetes.Interface
	pool    netip.Prefix
	log     *lbLogWriter
	// realNodes names the nodes whose pods run for real: their endpoints
	// are forwarded to.
	realNodes map[string]bool

	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]

	// serving counts the goroutines that serve listeners and forward
	// connections, so that Run can wait for them.
	serving sync.WaitGroup
	// connCtx ends when Run stops: forwarded connections that outlived
	// their listener are cut then.
	connCtx    context.Context
	cancelConn context.CancelFunc

	mu sync.Mutex
	// assigned holds the Services that have an address, keyed by
	// namespace/name.
	assigned map[string]*lbService
	// down holds the addresses taken down by SetDown.
	down map[netip.Addr]bool
	// delays holds the delays set by SetDelay, by address and client
	// address (the zero Addr for every client).
	delays map[[2]netip.Addr]time.Duration
	// stopped is set once Run is shutting down; no listener opens after it.
	stopped bool
}

// lbService is the state of one Service that holds an address. All fields
// but namespace, name and addr are guarded by loadBalancer.mu.
type lbService struct {
	namespace, name string
	addr            netip.Addr

	// ports, pods, ready and forward are as of the last successful read
	// of the informer caches; they are kept while the API server is
	// unreachable.
	ports []servicePort
	pods  []string
	ready bool
	// forward is set when a ready endpoint is on a real node: then every
	// port forwards to the ready endpoints on real nodes, through targets.
	// Otherwise TCP ports get the load balancer's own HTTP answer and UDP
	// ports no listener.
	forward bool
	targets map[lbPort]*lbTargets
	// listen is false when AnnotationListen turns the listeners off.
	listen bool
	// next picks the pod named in the next response, for round robin.
	next int
	// listeners holds what serves each open port.
	listeners map[lbPort]lbListener
}

// newLoadBalancer returns a controller for the cluster named cluster, handing
// out addresses from pool (a /24 inside 127.0.0.0/8; .0 and .255 are never
// handed out). log receives one line per notable event (address assigned,
// listener opened/closed); it may be io.Discard. realNodes names the
// cluster's real nodes, whose pods' endpoints get real traffic.
func newLoadBalancer(cluster string, client kubernetes.Interface, pool netip.Prefix, realNodes []string, log io.Writer) *loadBalancer {
	factory := informers.NewSharedInformerFactory(client, 0)
	svcInformer := factory.Core().V1().Services()
	sliceInformer := factory.Discovery().V1().EndpointSlices()

	connCtx, cancelConn := context.WithCancel(context.Background())
	lb := &loadBalancer{
		cluster:    cluster,
		client:     client,
		pool:       pool.Masked(),
		log:        &lbLogWriter{w: log},
		realNodes:  map[string]bool{},
		connCtx:    connCtx,
		cancelConn: cancelConn,
		factory:    factory,
		services:   svcInformer.Lister(),
		slices:     sliceInformer.Lister(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](lbRetryBaseDelay, lbRetryMaxDelay),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "lab-loadbalancer-" + cluster},
		),
		assigned: map[string]*lbService{},
		down:     map[netip.Addr]bool{},
		delays:   map[[2]netip.Addr]time.Duration{},
	}
	for _, name := range realNodes {
		lb.realNodes[name] = true
	}

	// AddEventHandler fails only on an informer that has been stopped, and
	// these were just made.
	svcReg, _ := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    lb.enqueueService,
		UpdateFunc: func(_, obj any) { lb.enqueueService(obj) },
		DeleteFunc: lb.enqueueService,
	})
	sliceReg, _ := sliceInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: lb.enqueueSlice,
		// The service-name label may change, so both Services need a sync.
		UpdateFunc: func(old, obj any) {
			lb.enqueueSlice(old)
			lb.enqueueSlice(obj)
		},
		DeleteFunc: lb.enqueueSlice,
	})
	lb.synced = []cache.InformerSynced{svcReg.HasSynced, sliceReg.HasSynced}
	return lb
}

// Run watches Services and EndpointSlices until ctx is done, then closes every
// listener and returns. It returns only after all its goroutines stopped.
func (lb *loadBalancer) Run(ctx context.Context) {
	lb.factory.Start(ctx.Done())

	var worker sync.WaitGroup
	// Syncing before the caches are complete could hand a Service an
	// address that another Service's status already holds.
	if cache.WaitForCacheSync(ctx.Done(), lb.synced...) {
		worker.Go(func() {
			for lb.processNextItem(ctx) {
			}
		})
	}

	<-ctx.Done()
	lb.queue.ShutDown()
	worker.Wait()
	lb.factory.Shutdown()

	lb.mu.Lock()
	lb.stopped = true
	for _, s := range lb.assigned {
		// With stopped set this only closes, and closing cannot fail.
		_ = lb.applyLocked(s)
	}
	lb.mu.Unlock()
	lb.cancelConn()
	lb.serving.Wait()
}

// HasSynced reports whether the informer caches have synced.
func (lb *loadBalancer) HasSynced() bool {
	for _, synced := range lb.synced {
		if !synced() {
			return false
		}
	}
	return true
}

// Addresses returns the assigned addresses keyed by "namespace/name".
func (lb *loadBalancer) Addresses() map[string]netip.Addr {
	lb.mu.Lock()
	defer lb.mu.Unlock()

	out := make(map[string]netip.Addr, len(lb.assigned))
	for key, s := range lb.assigned {
		out[key] = s.addr
	}
	return out
}

func (lb *loadBalancer) enqueueService(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		lb.logf("cannot queue Service: %v", err)
		return
	}
	lb.queue.Add(key)
}

// enqueueSlice queues the Service an EndpointSlice belongs to.
func (lb *loadBalancer) enqueueSlice(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	slice, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	if name := slice.Labels[discoveryv1.LabelServiceName]; name != "" {
		lb.queue.Add(slice.Namespace + "/" + name)
	}
}

func (lb *loadBalancer) processNextItem(ctx context.Context) bool {
	key, quit := lb.queue.Get()
	if quit {
		return false
	}
	defer lb.queue.Done(key)

	if err := lb.sync(ctx, key); err != nil {
		lb.logf("sync %s: %v; retrying", key, err)
		lb.queue.AddRateLimited(key)
		return true
	}
	lb.queue.Forget(key)
	return true
}

// sync brings the address, listeners and status of one Service in line with
// the informer caches. Listeners are handled before the status is written,
// so that a client that reads the address finds it serving; and an API
// error leaves them as they are, like a cloud load balancer that keeps
// forwarding while its control plane is away.
func (lb *loadBalancer) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		// A malformed key never gets better; retrying would only spin.
		lb.logf("dropping malformed key %q: %v", key, err)
		return nil
	}
	svc, err := lb.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		svc = nil
	} else if err != nil {
		return err
	}

	if svc == nil || !isLoadBalancerService(svc) {
		released, _ := lb.release(key)
		if svc == nil {
			return nil
		}
		return lb.clearStatus(ctx, svc, released)
	}

	lb.mu.Lock()
	s, err := lb.assignLocked(key, svc)
	if err != nil {
		lb.mu.Unlock()
		return err
	}
	s.ports = servicePorts(svc)
	lb.setEndpointsLocked(s, lb.readyEndpoints(namespace, name, s.ports))
	s.listen = svc.Annotations[AnnotationListen] != "false"
	listenErr := lb.applyLocked(s)
	lb.mu.Unlock()

	return errors.Join(listenErr, lb.writeStatus(ctx, svc, s.addr))
}

// assignLocked returns the state of the Service at key, giving it an address
// if it has none yet.
func (lb *loadBalancer) assignLocked(key string, svc *v1.Service) (*lbService, error) {
	if s, ok := lb.assigned[key]; ok {
		return s, nil
	}

	taken := map[netip.Addr]bool{}
	for _, s := range lb.assigned {
		taken[s.addr] = true
	}
	// Addresses in the status of Services not synced yet are avoided, so
	// that after a restart every Service gets its old address back
	// whatever the order of the queue.
	claimed := map[netip.Addr]bool{}
	all, err := lb.services.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	for _, other := range all {
		if other.Namespace == svc.Namespace && other.Name == svc.Name || !isLoadBalancerService(other) {
			continue
		}
		for _, addr := range ingressAddrs(other) {
			claimed[addr] = true
		}
	}

	current := ingressAddrs(svc)
	addr, err := pickPoolAddress(lb.pool, current, taken, claimed)
	if err != nil {
		return nil, fmt.Errorf("no address for %s: %w", key, err)
	}
	s := &lbService{
		namespace: svc.Namespace,
		name:      svc.Name,
		addr:      addr,
		targets:   map[lbPort]*lbTargets{},
		listeners: map[lbPort]lbListener{},
	}
	lb.assigned[key] = s
	if slices.Contains(current, addr) {
		lb.logf("address %s kept by %s", addr, key)
	} else {
		lb.logf("address %s assigned to %s", addr, key)
	}
	return s, nil
}

// release closes the listeners of the Service at key and frees its address.
// It returns the address and whether there was one.
func (lb *loadBalancer) release(key string) (netip.Addr, bool) {
	lb.mu.Lock()
	defer lb.mu.Unlock()

	s, ok := lb.assigned[key]
	if !ok {
		return netip.Addr{}, false
	}
	for port := range s.listeners {
		lb.closeLocked(s, port, "address released", true)
	}
	delete(lb.assigned, key)
	delete(lb.down, s.addr)
	lb.logf("address %s released by %s", s.addr, key)
	return s.addr, true
}

func (lb *loadBalancer) serviceWithAddrLocked(addr netip.Addr) *lbService {
	for _, s := range lb.assigned {
		if s.addr == addr {
			return s
		}
	}
	return nil
}

func (lb *loadBalancer) logf(format string, args ...any) {
	fmt.Fprintf(lb.log, "loadbalancer %s: %s\n", lb.cluster, fmt.Sprintf(format, args...))
}

// loopbackNet is where the lab may bind; pools must lie inside it.
var loopbackNet = netip.MustParsePrefix("127.0.0.0/8")

// lbLogWriter serialises writes to the log, which the worker, SetDown and
// the HTTP servers all use.
type lbLogWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lbLogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
