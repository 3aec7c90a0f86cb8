package dnsserver

import (
	"cmp"
	"context"
	"crypto/sha256"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/geo"
	"github.com/kfed-dev/kfed/pkg/store"
)

// settleTick is how often the controller looks again at members that hold
// back readiness, and refreshes the member metrics.
const settleTick = 500 * time.Millisecond

// controller keeps the published index current. It watches the host for the
// federation's Clusters and their DNS-reader credentials, each member for
// Services and EndpointSlices, and probes every entry point. Any change
// wakes one loop, which reconciles the set of member watches and rebuilds
// the index; events that come while it works fold into one more pass.
type controller struct {
	f      *Fed
	opts   WatchOptions
	server string

	host     reach
	clusters cache.SharedIndexInformer
	secrets  cache.SharedIndexInformer
	prober   *prober

	trigger chan struct{}
	cancel  context.CancelFunc
	done    sync.WaitGroup

	// members and ready belong to the loop.
	members map[string]*memberEntry
	ready   bool
	// rebuilds counts index builds, for tests.
	rebuilds atomic.Int64
}

// memberEntry is one Cluster of the federation and its watches.
type memberEntry struct {
	cluster Cluster
	// fingerprint identifies the credential the watches use.
	fingerprint [sha256.Size]byte
	// current answers; next, after a credential change, takes over once
	// it has synced, so that a token rotation costs no answers.
	current, next *memberWatch
	// credErr is why the member has no watch.
	credErr string
}

// newController prepares the watches of the host that hostCfg reaches.
func newController(f *Fed, hostCfg *rest.Config, server string) (*controller, error) {
	s, err := store.NewIn(hostCfg, f.Watch.Namespace, f.Watch.SecretsNamespace)
	if err != nil {
		return nil, err
	}
	c := &controller{
		f:       f,
		opts:    f.Watch,
		server:  server,
		trigger: make(chan struct{}, 1),
		members: map[string]*memberEntry{},
	}
	c.host = reach{what: "the host", onChange: c.wake}
	c.prober = newProber(server, f.Watch, c.wake)

	clusters := s.Clusters
	bySpec := fields.OneTermEqualSelector("spec.federation", f.Federation).String()
	c.clusters = cache.NewSharedIndexInformer(
		c.host.listWatch(
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.FieldSelector = bySpec
				return clusters.List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.FieldSelector = bySpec
				return clusters.Watch(ctx, o)
			}),
		&v1alpha1.Cluster{}, 0, cache.Indexers{})

	// Only the DNS readers' credentials, which are in a namespace of their
	// own: coredns-fed has no business with the managers', and its RBAC
	// keeps it from them. The label keeps out whatever else someone puts
	// there.
	readers := labels.SelectorFromSet(labels.Set{v1alpha1.LabelIdentity: v1alpha1.IdentityDNSReader}).String()
	secrets := s.Kube.CoreV1().Secrets(s.DNSNamespace)
	c.secrets = cache.NewSharedIndexInformer(
		c.host.listWatch(
			func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
				o.LabelSelector = readers
				return secrets.List(ctx, o)
			},
			func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
				o.LabelSelector = readers
				return secrets.Watch(ctx, o)
			}),
		&corev1.Secret{}, 0, cache.Indexers{})
	return c, nil
}

// Start starts the watches and the loop.
func (c *controller) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.wake() },
		UpdateFunc: func(any, any) { c.wake() },
		DeleteFunc: func(any) { c.wake() },
	}
	for _, inf := range []cache.SharedIndexInformer{c.clusters, c.secrets} {
		_ = inf.SetWatchErrorHandlerWithContext(c.host.watchError(ctx))
		_ = inf.SetTransform(trim)
		if _, err := inf.AddEventHandler(handler); err != nil {
			cancel()
			return err
		}
	}
	for _, inf := range []cache.SharedIndexInformer{c.clusters, c.secrets} {
		c.done.Add(1)
		go func() {
			defer c.done.Done()
			inf.RunWithContext(ctx)
		}()
	}
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		c.loop(ctx)
	}()
	return nil
}

// Stop stops everything Start started and waits for it.
func (c *controller) Stop() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.done.Wait()
	c.prober.Stop()
	return nil
}

// wake asks the loop for a pass; it never blocks.
func (c *controller) wake() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

func (c *controller) loop(ctx context.Context) {
	tick := time.NewTicker(settleTick)
	defer tick.Stop()
	defer func() {
		// The series stay: after a reload, the new instance owns them.
		for _, e := range c.members {
			e.stopWatches()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		case <-tick.C:
			c.memberMetrics()
			if c.f.Policy != nil {
				c.f.Policy.RTT.Store(c.prober.RTTs())
			}
			if c.ready {
				continue
			}
		}
		c.reconcile()
		c.rebuild()
	}
}

// reconcile makes the member watches follow the host's Clusters and
// credentials. While the host is unreachable its caches keep the last
// membership, and so does this.
func (c *controller) reconcile() {
	seen := map[string]bool{}
	for _, obj := range c.clusters.GetStore().List() {
		cl, ok := obj.(*v1alpha1.Cluster)
		if !ok || cl.Spec.Federation != c.f.Federation {
			continue
		}
		seen[cl.Name] = true
		e := c.members[cl.Name]
		if e == nil {
			e = &memberEntry{}
			c.members[cl.Name] = e
			log.Infof("Cluster %s joined federation %s", cl.Name, c.f.Federation)
		}
		e.cluster = Cluster{Name: cl.Name, Region: cl.Spec.Region, Zone: cl.Spec.Zone, Location: clusterLocation(cl)}
		c.reconcileCredential(e, cl)
		if e.next != nil && e.next.settled(c.opts.StartupTimeout) {
			e.current.stop()
			e.current, e.next = e.next, nil
		}
	}
	for name, e := range c.members {
		if !seen[name] {
			log.Infof("Cluster %s left federation %s", name, c.f.Federation)
			e.stopWatches()
			forgetMember(c.server, name)
			delete(c.members, name)
		}
	}
}

// reconcileCredential (re)starts a member's watch when its credential
// appears or changes, and stops it when the credential goes.
func (c *controller) reconcileCredential(e *memberEntry, cl *v1alpha1.Cluster) {
	secretName := cl.Spec.Credentials.DNSReader.Name
	obj, exists, _ := c.secrets.GetStore().GetByKey(c.opts.SecretsNamespace + "/" + secretName)
	secret, _ := obj.(*corev1.Secret)
	if !exists || secret == nil {
		// Usual for a moment while join or unjoin runs, so a warning.
		c.dropCredential(e, cl.Name, "its DNS-reader credential Secret "+c.opts.SecretsNamespace+"/"+secretName+
			" is missing (coredns-fed reads Secrets labelled "+v1alpha1.LabelIdentity+"="+v1alpha1.IdentityDNSReader+
			" in "+c.opts.SecretsNamespace+"; a member joined by an older kubectl-fed needs to join again)", log.Warningf)
		return
	}
	fp := sha256.Sum256(secret.Data[v1alpha1.SecretKeyKubeconfig])
	if fp == e.fingerprint && (e.current != nil || e.credErr != "") {
		return
	}
	e.fingerprint = fp
	cfg, err := store.ConfigFromSecret(secret)
	if err != nil {
		c.dropCredential(e, cl.Name, err.Error(), log.Errorf)
		return
	}
	w, err := startMemberWatch(cl.Name, memberConfig(cfg), c.wake)
	if err != nil {
		c.dropCredential(e, cl.Name, err.Error(), log.Errorf)
		return
	}
	e.credErr = ""
	if e.current == nil {
		e.current = w
		return
	}
	log.Infof("The credential of cluster %s changed; watching with the new one", cl.Name)
	if e.next != nil {
		e.next.stop()
	}
	e.next = w
}

func (c *controller) dropCredential(e *memberEntry, name, why string, logf func(string, ...any)) {
	if e.credErr != why {
		logf("Cluster %s is not watched: %s", name, why)
	}
	e.credErr = why
	e.fingerprint = [sha256.Size]byte{}
	e.stopWatches()
}

func (e *memberEntry) stopWatches() {
	for _, w := range []*memberWatch{e.current, e.next} {
		if w != nil {
			w.stop()
		}
	}
	e.current, e.next = nil, nil
}

// rebuild builds the index from the caches and the probes' results, points
// the prober at the entry points it found, and publishes the index once
// the first sync is done.
func (c *controller) rebuild() {
	start := time.Now()
	members, targets := c.snapshot()
	c.prober.Sync(targets)
	idx := BuildIndex(members, uint32(start.Unix()))
	c.rebuilds.Add(1)
	rebuildDuration.WithLabelValues(c.server).Observe(time.Since(start).Seconds())

	if !c.ready {
		if !c.settled(targets) {
			return
		}
		c.ready = true
		log.Infof("Synced federation %s: %d clusters, %d services", c.f.Federation, len(members), idx.Len())
	}
	c.f.SetIndex(idx)
}

// settled reports whether the first sync is done: the host's caches are
// full, every member has synced or failed, and every entry point has been
// probed once.
func (c *controller) settled(targets map[probeTarget]struct{}) bool {
	if !c.clusters.HasSynced() || !c.secrets.HasSynced() {
		return false
	}
	for _, e := range c.members {
		if e.current != nil && !e.current.settled(c.opts.StartupTimeout) {
			return false
		}
	}
	for t := range targets {
		if _, known := c.prober.Status(t); !known {
			return false
		}
	}
	return true
}

// snapshot reads every synced member's caches into Members, with each
// entry point's health decided, and returns the probe targets found.
func (c *controller) snapshot() ([]Member, map[probeTarget]struct{}) {
	targets := map[probeTarget]struct{}{}
	members := make([]Member, 0, len(c.members))
	for _, e := range c.members {
		w := e.current
		if w == nil || !w.synced() {
			// A partial cache would answer partially; a member counts
			// once it has listed everything.
			continue
		}
		m := Member{Cluster: e.cluster}
		total, healthy := 0, 0
		for _, obj := range w.services.GetStore().List() {
			svc, ok := obj.(*corev1.Service)
			if !ok || !served(svc) {
				continue
			}
			slices, _ := w.slices.GetIndexer().ByIndex(byService, svc.Namespace+"/"+svc.Name)
			ready := readyEndpoints(slices) > 0
			ms := memberService(svc)
			for i := range ms.EntryPoints {
				ep := &ms.EntryPoints[i]
				ep.Healthy = ready
				if t, ok := probeFor(e.cluster.Name, svc, *ep); ok {
					targets[t] = struct{}{}
					up, _ := c.prober.Status(t)
					ep.Healthy = ready && up
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

// memberMetrics refreshes the members' sync states.
func (c *controller) memberMetrics() {
	for name, e := range c.members {
		state := stateNoCredentials
		if e.current != nil {
			state = e.current.state()
		}
		setMemberState(c.server, name, state)
	}
}

// memberConfig tunes a member's client configuration: a dial timeout, so
// that an unreachable member fails instead of holding back readiness, and
// coredns-fed's user agent.
func memberConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = "coredns-fed"
	cfg.Dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	cfg.QPS, cfg.Burst = 20, 40
	return cfg
}
