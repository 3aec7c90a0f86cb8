package dnsserver

import (
	"net/netip"
)

// Member is one member cluster as the index is built from it: where it is,
// and the entry points of the Services it serves, with their health already
// decided. The watchers produce Members; tests write them by hand.
type Member struct {
	Cluster
	Services []MemberService
}

// Cluster is a member as answers see it.
type Cluster struct {
	// Name is the member's name in the federation: a DNS label.
	Name string
	// Region and Zone place the member; either may be empty, and then the
	// member answers only at the wider levels.
	Region, Zone string
	// Location is where the member is on Earth, for the geo policy.
	Location Location
}

// MemberService is one Service in one member.
type MemberService struct {
	Namespace, Name string
	// Ports are the Service's named ports, for SRV answers.
	Ports []Port
	// EntryPoints are where clients reach the Service from outside the
	// member.
	EntryPoints []EntryPoint
	// Selection is what the Service's annotations in this member say about
	// choosing members.
	Selection Selection
	// Ready tells whether the Service has a ready endpoint, for explain:
	// the entry points' health already counts it.
	Ready bool
}

// Port is one named port of a Service.
type Port struct {
	// Name and Protocol are lower case, as in _<name>._<protocol>.
	Name, Protocol string
	Port           uint16
}

// EntryPoint is one address or host name of a Service: a load-balancer
// ingress IP or host name, or an external IP.
type EntryPoint struct {
	// Addr is set for an address and Hostname for a host name (absolute,
	// lower case).
	Addr     netip.Addr
	Hostname string
	// Healthy tells whether the entry point is to be served: the Service
	// has a ready endpoint and the entry point's probes pass.
	Healthy bool
}

// Index is everything the plugin answers from. It is immutable once built:
// the watchers make a new one on every change and swap it in, so a query
// sees one consistent state and takes no lock. A new index shares with the
// last everything a change did not touch (see indexBuilder), so that a
// change costs what it touches, not the size of the zone.
type Index struct {
	// shards hold the Services, spread by a hash of their names: a change
	// copies one shard, a lookup reads one map.
	shards [indexShards]map[serviceKey]*Service
	// namespaces count the Services of each namespace.
	namespaces map[string]int
	count      int
	// regions hold the zones of each region that some member is in.
	regions  map[string]map[string]bool
	clusters map[string]*Cluster
	serial   uint32
}

// Service is a federated Service: one Service name in one namespace, in
// every member that has it.
type Service struct {
	Namespace, Name string
	// Clusters are the members that have the Service, by name.
	Clusters []*ServiceCluster
	// Selection is the Service's policy and its parameters: for each, that
	// of the first member, by name, whose annotations set it.
	Selection Selection

	// healthy has bit i set when Clusters[i] is healthy, for a Service of
	// up to 64 members: a global name's candidates are found without
	// reading each member's copy, a cache miss apiece in a large index.
	healthy uint64
}

// maskedClusters is the most members a Service's healthy mask covers.
const maskedClusters = 64

// ServiceCluster is a Service in one member.
type ServiceCluster struct {
	*Cluster
	Ports       []Port
	EntryPoints []EntryPoint
	// Healthy is set when some entry point is healthy.
	Healthy bool
	// Ready is the member's MemberService.Ready.
	Ready bool

	selection Selection
}

// BuildIndex builds the index of members. serial becomes the SOA serial.
// The members' slices are not kept: the index holds copies.
func BuildIndex(members []Member, serial uint32) *Index {
	b := newIndexBuilder()
	for i := range members {
		m := &members[i]
		b.setCluster(m.Cluster)
		for j := range m.Services {
			b.setService(m.Name, &m.Services[j])
		}
	}
	return b.build(serial)
}

// Serial is the SOA serial of the index.
func (idx *Index) Serial() uint32 { return idx.serial }

// Service returns a federated Service, or nil.
func (idx *Index) Service(namespace, name string) *Service {
	return idx.shards[shardOf(namespace, name)][serviceKey{namespace, name}]
}

// Cluster returns a member by name, or nil.
func (idx *Index) Cluster(name string) *Cluster { return idx.clusters[name] }

// Len returns the number of federated Services.
func (idx *Index) Len() int {
	return idx.count
}

// HasLocation reports whether some member is in region (and zone, when not
// empty). The empty region is the global level, which always exists.
func (idx *Index) HasLocation(region, zone string) bool {
	if region == "" {
		return zone == ""
	}
	zones, ok := idx.regions[region]
	if !ok {
		return false
	}
	return zone == "" || zones[zone]
}

// HasNamespace reports whether some member serves a Service in namespace.
func (idx *Index) HasNamespace(namespace string) bool {
	return idx.namespaces[namespace] > 0
}

// Cluster returns the Service in member name, or nil.
func (s *Service) Cluster(name string) *ServiceCluster {
	for _, sc := range s.Clusters {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// HasPort reports whether some member's Service has the named port; an
// empty name matches any port of proto.
func (s *Service) HasPort(name, proto string) bool {
	for _, sc := range s.Clusters {
		if _, ok := sc.Port(name, proto); ok {
			return true
		}
	}
	return false
}

// Port returns the number of a named port of the Service in this member.
// An empty name matches the first port of proto.
func (sc *ServiceCluster) Port(name, proto string) (uint16, bool) {
	for _, p := range sc.Ports {
		if (name == "" || p.Name == name) && p.Protocol == proto {
			return p.Port, true
		}
	}
	return 0, false
}
