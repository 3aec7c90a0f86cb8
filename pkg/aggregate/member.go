package aggregate

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Member is one member cluster as resource.Builder reaches it: its client
// configuration, its discovery cached in memory for the life of one
// command, and a RESTMapper over that discovery that knows short names.
// Each member gets its own, since members need not serve the same types.
type Member struct {
	config    *rest.Config
	direct    discovery.DiscoveryInterface
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.RESTMapper
}

// NewMember returns the Member that cfg reaches. Unset QPS and Burst are
// raised, as kubectl raises them, so that discovery of a server with many
// API groups is not throttled on the client side.
func NewMember(cfg *rest.Config) (*Member, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS = 50
	}
	if cfg.Burst == 0 {
		cfg.Burst = 300
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, nil)
	return &Member{config: cfg, direct: dc, discovery: cached, mapper: mapper}, nil
}

// ToRESTConfig returns the member's client configuration.
func (m *Member) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(m.config), nil }

// ToDiscoveryClient returns the member's cached discovery.
func (m *Member) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return m.discovery, nil
}

// ToRESTMapper returns the member's RESTMapper.
func (m *Member) ToRESTMapper() (meta.RESTMapper, error) { return m.mapper, nil }

// reachable asks the member for its version, which any authenticated
// identity may read. It fails fast, with one clear error, on a member that
// is down or refuses the credential: the discovery cache would otherwise log
// every failed attempt before returning the same error.
func (m *Member) reachable(ctx context.Context) error {
	return m.direct.RESTClient().Get().AbsPath("/version").Do(ctx).Error()
}
