// Package dnsserver is the CoreDNS plugin fed: an authoritative server for a
// delegated zone that answers for a federation's Services from the live
// state of every member cluster. See README.md.
package dnsserver

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/fall"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

const pluginName = "fed"

// Defaults of the Corefile options.
const (
	defaultTTL                = 5
	defaultNegativeTTL        = 5
	defaultNSTTL              = 3600
	defaultMaxAddresses       = 8
	defaultProbeInterval      = 500 * time.Millisecond
	defaultProbeTimeout       = 500 * time.Millisecond
	defaultProbeRate          = 800
	defaultUnhealthyThreshold = 2
	defaultHealthyThreshold   = 2
	defaultProbeConcurrency   = 64
	defaultStartupTimeout     = 10 * time.Second
	defaultGeoReload          = 5 * time.Second
	defaultNearest            = 1
)

// Fed is the fed plugin.
type Fed struct {
	Next plugin.Handler

	// Zones are the zones the plugin is authoritative for, absolute and
	// lower case.
	Zones []string
	// Federation is the name of the federation answered for.
	Federation string
	// Fall lists the zones where names that do not exist are passed on to
	// the next plugin instead of answered with NXDOMAIN.
	Fall fall.F

	// TTL is the TTL of positive answers and NegativeTTL that of the SOA,
	// which bounds how long NXDOMAIN and NODATA are cached.
	TTL, NegativeTTL uint32
	// Nameservers are the zones' NS records, with the glue of those in a
	// zone; setup refuses a Corefile without any. NSTTL is the TTL of the
	// NS records and the glue: the delegation changes when servers are
	// added, not when services fail, so resolvers need not ask for it as
	// often as for answers.
	Nameservers []Nameserver
	NSTTL       uint32
	// Rname is the SOA's RNAME, the mailbox of the zone's administrator
	// as a domain name; empty means hostmaster.<zone>.
	Rname string
	// MaxAddresses caps the addresses (and SRV records) in one answer.
	MaxAddresses int
	// FailOpen answers with every entry point of a Service when none is
	// healthy anywhere, instead of NODATA.
	FailOpen bool
	// Selector orders the members that answer for a Service.
	Selector Selector
	// Policy is the selector of the policies, which Selector is unless a
	// test sets another; its round-trip times come from the probes.
	Policy *PolicySelector
	// GeoDB is the client location database of the geoip option, or nil;
	// it is watched for changes every GeoReload while the server runs.
	GeoDB     *GeoDB
	GeoReload time.Duration

	// Explain is the address of the explain listener (explain_listener.go),
	// empty for none.
	Explain string

	// Watch holds how the host and the members are watched and probed.
	Watch WatchOptions
	// DNSSEC says whether the zones are signed, and with what keys.
	DNSSEC DNSSECOptions

	// index is nil until the first sync of every reachable member is
	// done; until then queries get SERVFAIL and Ready is false.
	index atomic.Pointer[Index]
	// ctrl is the controller f is attached to, from OnStartup to
	// OnShutdown; a reload may hand it to the next Fed (handover.go).
	ctrl *controller
	// signer signs the answers, with DNSSEC enabled; nil otherwise.
	signer *signer
}

// Nameserver is one NS record of the zones, with its glue when the name is
// inside a zone.
type Nameserver struct {
	Name  string
	Addrs []netip.Addr
}

// WatchOptions configure where the federation is read from and how entry
// points are probed.
type WatchOptions struct {
	// Kubeconfig and Context reach the host cluster; an empty Kubeconfig
	// means the in-cluster configuration.
	Kubeconfig, Context string
	// Namespace is the host namespace of the federation's objects.
	Namespace string
	// SecretsNamespace is the host namespace of the DNS-reader credential
	// Secrets, the only Secrets coredns-fed reads.
	SecretsNamespace string

	ProbeInterval      time.Duration
	ProbeTimeout       time.Duration
	UnhealthyThreshold int
	HealthyThreshold   int
	ProbeConcurrency   int
	// ProbeRate bounds the probes sent per second: with more endpoints
	// than ProbeInterval allows at that rate, each is probed less often.
	ProbeRate int
	// StartupTimeout bounds how long a member that neither syncs nor fails
	// holds back readiness, and how long a start waits for the first sync.
	StartupTimeout time.Duration
	// ProbeSource is the local address probes are sent from; unset means
	// the system's choice.
	ProbeSource netip.Addr
	// ExternalIPs makes a Service's spec.externalIPs entry points too,
	// besides the addresses its load balancer assigned.
	ExternalIPs bool
	// Snapshot is the file that keeps the host's last state of the
	// federation, for a start while the host cannot be reached; empty
	// means none.
	Snapshot string
	// TokenRefreshCheck is how often the DNS readers' tokens are checked,
	// and those with less than a third of their lifetime left refreshed.
	TokenRefreshCheck time.Duration
}

// New returns a plugin for federation with the defaults of every option.
func New(federation string, zones []string) *Fed {
	policy := &PolicySelector{Default: PolicyAll, Nearest: defaultNearest, Locate: &Locator{}, RTT: &RTTs{}}
	return &Fed{
		Zones:        zones,
		Federation:   federation,
		TTL:          defaultTTL,
		NegativeTTL:  defaultNegativeTTL,
		NSTTL:        defaultNSTTL,
		MaxAddresses: defaultMaxAddresses,
		FailOpen:     true,
		Selector:     policy,
		Policy:       policy,
		GeoReload:    defaultGeoReload,
		Watch: WatchOptions{
			Namespace:          v1alpha1.Namespace,
			SecretsNamespace:   v1alpha1.DNSNamespace,
			ProbeInterval:      defaultProbeInterval,
			ProbeTimeout:       defaultProbeTimeout,
			UnhealthyThreshold: defaultUnhealthyThreshold,
			HealthyThreshold:   defaultHealthyThreshold,
			ProbeConcurrency:   defaultProbeConcurrency,
			ProbeRate:          defaultProbeRate,
			StartupTimeout:     defaultStartupTimeout,
			TokenRefreshCheck:  defaultTokenRefreshCheck,
		},
	}
}

// SetIndex publishes idx: from now on queries are answered from it, and the
// plugin is ready. The watchers call it after every rebuild once the first
// sync is done; tests call it with an index they built.
func (f *Fed) SetIndex(idx *Index) { f.index.Store(idx) }

// Index returns the published index, or nil before the first sync.
func (f *Fed) Index() *Index { return f.index.Load() }
