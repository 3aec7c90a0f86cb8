package dnsserver

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"

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
