// Package distribute puts federated objects into member clusters and takes
// them out again: the engine behind `kubectl fed apply`, `delete`, `diff`,
// `sync` and `rebalance`. It plans each object per member from its placement
// (package placement), writes with server-side apply under the field manager
// kubectl-fed, members in parallel and objects in dependency order, and
// reports one result per object and member.
package distribute

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/placement"
	"github.com/kfed-dev/kfed/pkg/store"
)

// Target is one member cluster, connected with kfed's manager identity.
type Target struct {
	Cluster v1alpha1.Cluster
	Member  placement.Member
	// Ready is whether the member answered within the timeout.
	Ready bool
	// RequestTimeout bounds every request to the member.
	RequestTimeout time.Duration
	// Reason says why a member is not Ready, and Cause classifies it as
	// a Cluster's Ready condition does (v1alpha1.Reason*), so that a
	// command showing members need not ask an unready one again.
	Reason string
	Cause  string

	Dynamic dynamic.Interface
	// Metadata reads objects' metadata only: what kfed checks before it
	// writes, at a fraction of the bytes.
	Metadata metadata.Interface
	Mapper   meta.ResettableRESTMapper
	// Types resolves what users type for a resource, short names included.
	Types meta.RESTMapper

	// silent holds why the member stopped answering during this command.
	silent atomic.Pointer[error]
}

// Silent returns why the member stopped answering during this command, or
// nil while it answers. Once a request to it went unanswered, every later
// run of writes to it fails at once (see memberRun), and whatever else a
// command does with the member should be skipped too, rather than waiting
// out another timeout.
func (t *Target) Silent() error {
	if err := t.silent.Load(); err != nil {
		return *err
	}
	return nil
}

// setSilent records the first reason the member stopped answering.
func (t *Target) setSilent(err error) {
	t.silent.CompareAndSwap(nil, &err)
}

// Name is the member's name.
func (t *Target) Name() string { return t.Cluster.Name }

// fail records why the member cannot be used.
func (t *Target) fail(err error) {
	t.Cause, t.Reason = member.Classify(err)
}

// ConnectOptions bound how members are reached.
type ConnectOptions struct {
	// Timeout bounds the readiness check of each member, and each
	// connection made to it.
	Timeout time.Duration
	// RequestTimeout bounds every request to a member, reads and writes
	// alike, however long the command runs; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// QPS and Burst are each member client's rate limits.
	QPS   float32
	Burst int
	// Credentials are the manager credential Secrets that the command
	// read already, by cluster name; the other members' are read here.
	Credentials map[string]*corev1.Secret
}

// DefaultRequestTimeout bounds each request when --request-timeout is not
// given. Without a bound, one member that stops answering in the middle of
// a command holds the command for ever: its connections stay open and its
// requests wait. It is as long as an admission webhook may take, so that a
// slow but working member is not given up on.
const DefaultRequestTimeout = 30 * time.Second

// Connect reaches, in parallel, every member of a federation, as
// Store.Members returns them, and returns them sorted by name, each Ready
// or with the reason it is not.
func Connect(ctx context.Context, s *store.Store, clusters []v1alpha1.Cluster, opts ConnectOptions) []*Target {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	results := fanout.Map(ctx, clusters, fanout.Options{Timeout: opts.Timeout}, func(ctx context.Context, c v1alpha1.Cluster) (*Target, error) {
		t := &Target{
			Cluster: c,
			Member: placement.Member{
				Name: c.Name, Region: c.Spec.Region, Zone: c.Spec.Zone, Labels: c.Labels,
			},
			RequestTimeout: opts.RequestTimeout,
		}
		cfg, err := managerConfig(ctx, s, &c, opts.Credentials[c.Name])
		if err != nil {
			t.fail(err)
			return t, nil
		}
		cfg.QPS, cfg.Burst = opts.QPS, opts.Burst
		if cfg.QPS == 0 {
			cfg.QPS, cfg.Burst = 50, 100
		}
		cfg.Timeout = opts.RequestTimeout
		// client-go dials for up to 30s; a member whose address drops
		// packets is given up on as soon as it would be at Connect.
		cfg.Dial = (&net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}).DialContext
		// One HTTP client for the three API clients: one connection pool
		// to the member, not three.
		httpClient, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.fail(err)
			return t, nil
		}
		disco, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
		if err != nil {
			t.fail(err)
			return t, nil
		}
		if t.Dynamic, err = dynamic.NewForConfigAndClient(cfg, httpClient); err != nil {
			t.fail(err)
			return t, nil
		}
		if t.Metadata, err = metadata.NewForConfigAndClient(cfg, httpClient); err != nil {
			t.fail(err)
			return t, nil
		}
		probe := disco.RESTClient().Get().AbsPath("/readyz").Timeout(opts.Timeout)
		if _, err := probe.DoRaw(ctx); err != nil {
			t.fail(err)
			return t, nil
		}
		cached := memory.NewMemCacheClient(disco)
		t.Mapper = newMappings(restmapper.NewDeferredDiscoveryRESTMapper(cached))
		t.Types = restmapper.NewShortcutExpander(t.Mapper, cached, nil)
		t.Ready = true
		// Discovery costs a round trip or two that the member's first
		// write would wait for; made now, it overlaps with what the
		// command does before writing (its lock, the inventory). The
		// mapper is safe to share: a caller that comes before discovery
		// ends waits for it.
		go warmMapper(t.Mapper)
		return t, nil
	})
	targets := make([]*Target, len(clusters))
	for i, r := range results {
		t := r.Value
		if t == nil {
			c := clusters[i]
			t = &Target{Cluster: c, Member: placement.Member{Name: c.Name, Region: c.Spec.Region, Zone: c.Spec.Zone, Labels: c.Labels}, RequestTimeout: opts.RequestTimeout}
			t.Reason, t.Cause = fmt.Sprintf("no answer within %s: %v", opts.Timeout, r.Err), v1alpha1.ReasonTimeout
		}
		targets[i] = t
	}
	return targets
}

// managerConfig returns the client configuration of the manager identity
// in member c: from its credential Secret when the command read it, else
// read from the host.
func managerConfig(ctx context.Context, s *store.Store, c *v1alpha1.Cluster, secret *corev1.Secret) (*rest.Config, error) {
	if secret != nil {
		return store.ConfigFromSecret(secret)
	}
	cfg, _, err := s.MemberConfig(ctx, c, v1alpha1.IdentityManager)
	return cfg, err
}

// warmMapper makes mapper read the member's API discovery. Whether that
// works does not matter here: a mapper that failed asks again when used.
func warmMapper(mapper meta.RESTMapper) {
	_, _ = mapper.RESTMapping(schema.GroupKind{Kind: "Namespace"}, "v1")
}

// Members returns the placement view of targets.
func Members(targets []*Target) []placement.Member {
	out := make([]placement.Member, len(targets))
	for i, t := range targets {
		out[i] = t.Member
	}
	return out
}
