package dnsserver

import (
	"context"
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/pkg/store"
)

// settleTick is how often the controller looks again at members that hold
// back readiness, and refreshes the member metrics.
const settleTick = 500 * time.Millisecond

// controller keeps the published index current. It watches the host for the
// federation's Federation, Clusters and their DNS-reader credentials, each
// member for Services and EndpointSlices, and probes every entry point. Any
// change wakes one loop, which reconciles the set of member watches and
// rebuilds the index; events that come while it works fold into one more
// pass. It publishes to every Fed attached to it: one, or two for a moment
// while a reload hands it over (see handover.go).
type controller struct {
	federation string
	opts       WatchOptions
	server     string
	// hostURL is the host's API server, which a snapshot must name.
	hostURL string
	key     controllerKey

	host   *hostWatch
	prober *prober
	tokens *tokenRefresher

	trigger chan struct{}
	cancel  context.CancelFunc
	done    sync.WaitGroup
	started time.Time
	// synced is closed when the first index is published.
	synced chan struct{}

	mu   sync.Mutex
	feds []*Fed
	last *Index
	// keys is the host's DNSSEC key set last read that could sign, and
	// keyData its Secret's data as read, good or not.
	keys    *dnssec.KeySet
	keyData []byte

	// The rest belongs to the loop.
	members map[string]*memberEntry
	ready   bool
	// serial is the last serial known: kept if the Federation goes.
	serial uint32
	// snap is the snapshot read at the start, until the host has synced,
	// and snapSum the digest of the snapshot last read or written.
	snap        *hostState
	snapSum     [sha256.Size]byte
	snapErr     string
	snapWritten time.Time
	// snapCost is how long the last snapshot took to encode and write.
	snapCost time.Duration
	noFedLog bool
	// membersChanged is set by every event of a member, and cleared when
	// the snapshot has been written.
	membersChanged atomic.Bool
	// rebuilds counts index builds, for tests.
	rebuilds atomic.Int64
	// builder makes each index from the last; targetUsers count, for each
	// probe target, the Services (namespace/name) of its member that use
	// it.
	builder     *indexBuilder
	targetUsers map[probeTarget]map[string]int
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
	// served are what the member serves as last known, by namespace/name:
	// from its watch once synced, or until then from the snapshot. known
	// is false while there is neither; source is the watch they were read
	// from, nil for the snapshot. total and healthy count their entry
	// points.
	served         map[string]*memberServed
	known          bool
	source         *memberWatch
	total, healthy int
}

// newController prepares the watches of federation in the host that
// hostCfg reaches, and reads the snapshot if there is one.
func newController(federation string, opts WatchOptions, hostCfg *rest.Config, server string) (*controller, error) {
	s, err := store.NewIn(hostCfg, opts.Namespace, opts.SecretsNamespace)
	if err != nil {
		return nil, err
	}
	c := &controller{
		federation:  federation,
		opts:        opts,
		server:      server,
		hostURL:     hostCfg.Host,
		trigger:     make(chan struct{}, 1),
		synced:      make(chan struct{}),
		members:     map[string]*memberEntry{},
		builder:     newIndexBuilder(),
		targetUsers: map[probeTarget]map[string]int{},
	}
	c.host = newHostWatch(s, federation, c.wake)
	c.prober = newProber(server, opts, c.wake)
	c.tokens = newTokenRefresher(server, opts.TokenRefreshCheck, c.host, s.Kube)
	c.loadSnapshot()
	return c, nil
}

// Start starts the watches and the loop.
func (c *controller) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.started = time.Now()
	if err := c.host.start(ctx, &c.done); err != nil {
		cancel()
		return err
	}
	c.tokens.start(ctx, &c.done)
	c.done.Add(1)
	go func() {
		defer c.done.Done()
		c.loop(ctx)
	}()
	// A snapshot's members are watched at once.
	c.wake()
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

// memberChanged is the member watches' onChange: the snapshot keeps what
// members serve, too.
func (c *controller) memberChanged() {
	c.membersChanged.Store(true)
	c.wake()
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
			c.storeRTTs()
			// A watch waiting to take over after a credential change is
			// looked at on every tick, so that it does so once synced,
			// even if no event comes.
			if c.ready && !c.handingOver() {
				c.saveSnapshot()
				continue
			}
		}
		st, known := c.hostState()
		if known {
			c.reconcile(st)
			c.followKeys(st.keySet)
		}
		c.rebuild(st, known)
		c.saveSnapshot()
	}
}

// hostState returns what the host says of the federation: its caches once
// they have synced, which they keep while the host is unreachable, and the
// snapshot until then. It is not known before either.
func (c *controller) hostState() (hostState, bool) {
	if !c.host.synced() {
		if c.snap == nil {
			return hostState{}, false
		}
		return *c.snap, true
	}
	c.snap = nil
	st := c.host.state()
	switch {
	case st.serial != 0:
		c.serial, c.noFedLog = st.serial, false
	case !c.noFedLog:
		c.noFedLog = true
		if c.serial == 0 {
			log.Warningf("Federation %s is not in namespace %s of the host: not answering until it is (kubectl fed init)", c.federation, c.opts.Namespace)
		} else {
			log.Warningf("Federation %s is no longer in namespace %s of the host: keeping serial %d", c.federation, c.opts.Namespace, c.serial)
		}
	}
	st.serial = c.serial
	return st, true
}

// reconcile makes the member watches follow the host's Clusters and
// credentials. While the host is unreachable its caches keep the last
// membership, and so does this.
func (c *controller) reconcile(st hostState) {
	seen := map[string]bool{}
	for _, hm := range st.members {
		name := hm.cluster.Name
		seen[name] = true
		e := c.members[name]
		if e == nil {
			e = &memberEntry{served: map[string]*memberServed{}}
			c.members[name] = e
			log.Infof("Cluster %s joined federation %s", name, c.federation)
		}
		e.cluster = hm.cluster
		c.reconcileCredential(e, hm)
		if st.snapshot && hm.services != nil && !e.known && e.credErr == "" {
			c.replaceServices(e, hm.services)
		}
		if e.next != nil && e.next.settled(c.opts.StartupTimeout) {
			e.current.stop()
			e.current, e.next = e.next, nil
		}
	}
	for name, e := range c.members {
		if !seen[name] {
			log.Infof("Cluster %s left federation %s", name, c.federation)
			e.stopWatches()
			c.replaceServices(e, nil)
			forgetMember(c.server, name)
			delete(c.members, name)
		}
	}
}

// reconcileCredential (re)starts a member's watch when its credential
// appears or changes, and stops it when the credential goes.
func (c *controller) reconcileCredential(e *memberEntry, hm hostMember) {
	name := hm.cluster.Name
	if hm.kubeconfig == nil {
		// Usual for a moment while join or unjoin runs, so a warning.
		c.dropCredential(e, name, "its DNS-reader credential Secret "+hm.secret+
			" is missing (coredns-fed reads Secrets labelled "+v1alpha1.LabelIdentity+"="+v1alpha1.IdentityDNSReader+
			" in "+c.opts.SecretsNamespace+"; a member joined by an older kubectl-fed needs to join again)", log.Warningf)
		return
	}
	fp := sha256.Sum256(hm.kubeconfig)
	if fp == e.fingerprint && (e.current != nil || e.credErr != "") {
		return
	}
	e.fingerprint = fp
	// A new credential may be due for a refresh, or be one.
	c.tokens.wake()
	ns, secretName, _ := strings.Cut(hm.secret, "/")
	cfg, err := store.ConfigFromSecret(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName},
		Data:       map[string][]byte{v1alpha1.SecretKeyKubeconfig: hm.kubeconfig},
	})
	if err != nil {
		c.dropCredential(e, name, err.Error(), log.Errorf)
		return
	}
	setTokenExpiry(c.server, name, cfg.BearerToken)
	w, err := startMemberWatch(name, memberConfig(cfg), c.memberChanged)
	if err != nil {
		c.dropCredential(e, name, err.Error(), log.Errorf)
		return
	}
	e.credErr = ""
	if e.current == nil {
		e.current = w
		return
	}
	log.Infof("The credential of cluster %s changed; watching with the new one", name)
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
	// Without a credential there is nothing to follow the member with.
	c.replaceServices(e, nil)
}

// handingOver reports whether a member has a new watch waiting to take
// over from the one that answers.
func (c *controller) handingOver() bool {
	for _, e := range c.members {
		if e.next != nil {
			return true
		}
	}
	return false
}

func (e *memberEntry) stopWatches() {
	for _, w := range []*memberWatch{e.current, e.next} {
		if w != nil {
			w.stop()
		}
	}
	e.current, e.next = nil, nil
}

// rebuild brings the index up to date with what changed in the caches and
// the probes since the last pass, and publishes it once the first sync is
// done. Nothing is published while the federation's serial is unknown:
// every server must give the same.
func (c *controller) rebuild(st hostState, known bool) {
	start := time.Now()
	for _, e := range c.members {
		c.syncMember(e)
	}
	c.probesChanged()
	for name, e := range c.members {
		if e.known {
			entryPoints.WithLabelValues(c.server, name).Set(float64(e.total))
			healthyEntryPoints.WithLabelValues(c.server, name).Set(float64(e.healthy))
		}
	}
	if !known || st.serial == 0 {
		return
	}
	idx := c.builder.build(st.serial)
	c.rebuilds.Add(1)
	rebuildDuration.WithLabelValues(c.server).Observe(time.Since(start).Seconds())

	if c.ready {
		c.publish(idx)
		return
	}
	if !c.settled() {
		return
	}
	c.ready = true
	c.publish(idx)
	from := "the host"
	if !c.host.synced() {
		from = "the snapshot " + c.opts.Snapshot + " (the host does not answer)"
	}
	nKnown := 0
	for _, e := range c.members {
		if e.known {
			nKnown++
		}
	}
	log.Infof("Synced federation %s in %s from %s: %d of %d clusters known, %d services, serial %d",
		c.federation, time.Since(c.started).Round(time.Millisecond), from, nKnown, len(c.members), idx.Len(), st.serial)
	close(c.synced)
}

// settled reports whether the first sync is done: the host's caches are
// full, every member has synced or failed, and every entry point has been
// probed once. A snapshot stands for the host once the host has failed.
// After the startup timeout, only the host's state is waited for.
func (c *controller) settled() bool {
	late := time.Since(c.started) > c.opts.StartupTimeout
	if !c.host.synced() && !c.host.failing.Load() && !late {
		return false
	}
	if late {
		return true
	}
	for _, e := range c.members {
		if e.current != nil && !e.current.settled(c.opts.StartupTimeout) {
			return false
		}
	}
	return c.prober.Pending() == 0
}
