package dnsserver

import (
	"maps"
	"slices"
	"strings"
)

// indexShards is the number of maps the index spreads its Services over. A
// change copies the shards of the Services it touches, so at 50,000
// Services it copies about 200 entries per Service changed, however large
// the zone; a power of two, so that the hash is masked, not divided.
const indexShards = 256

// serviceKey names a federated Service: its namespace and name, lower case.
type serviceKey struct{ namespace, name string }

// shardOf returns the shard of a Service: FNV-1a over its namespace and
// name, computed in place so that a lookup does not allocate.
func shardOf(namespace, name string) int {
	const offset, prime = 2166136261, 16777619
	h := uint32(offset)
	for i := 0; i < len(namespace); i++ {
		h = (h ^ uint32(namespace[i])) * prime
	}
	h = (h ^ '/') * prime
	for i := 0; i < len(name); i++ {
		h = (h ^ uint32(name[i])) * prime
	}
	return int(h & (indexShards - 1))
}

// indexBuilder keeps what the index is made of, member by member, and
// makes each new index from the last one: only the Services changed since
// are put together again from their members, and only their shards are
// copied. The controller feeds it the changes its watches and probes
// report; BuildIndex feeds it everything at once.
type indexBuilder struct {
	clusters map[string]*builtCluster
	// order is the members' names, sorted: the order of a Service's
	// Clusters.
	order []string
	last  *Index
	// dirty are the Services changed since the last build; topology is
	// set when a member came, went or moved.
	dirty    map[serviceKey]struct{}
	topology bool
}

// builtCluster is one member as the builder holds it. Its ServiceClusters
// are never changed once made: a published index may hold them.
type builtCluster struct {
	cluster  *Cluster
	services map[serviceKey]*ServiceCluster
}

func newIndexBuilder() *indexBuilder {
	return &indexBuilder{clusters: map[string]*builtCluster{}, dirty: map[serviceKey]struct{}{}, topology: true}
}

// normalCluster returns c as answers compare it: lower case, and without a
// zone when it has no region, since a zone means nothing without one.
func normalCluster(c Cluster) Cluster {
	c.Name, c.Region, c.Zone = strings.ToLower(c.Name), strings.ToLower(c.Region), strings.ToLower(c.Zone)
	if c.Region == "" {
		c.Zone = ""
	}
	return c
}

// setCluster adds a member, or updates where it is. Its Services are then
// rebuilt with the new place.
func (b *indexBuilder) setCluster(c Cluster) {
	c = normalCluster(c)
	bc := b.clusters[c.Name]
	if bc != nil && *bc.cluster == c {
		return
	}
	b.topology = true
	if bc == nil {
		bc = &builtCluster{services: map[serviceKey]*ServiceCluster{}}
		b.clusters[c.Name] = bc
		b.order = append(b.order, c.Name)
		slices.Sort(b.order)
	}
	bc.cluster = &c
	for key, sc := range bc.services {
		moved := *sc
		moved.Cluster = bc.cluster
		bc.services[key] = &moved
		b.dirty[key] = struct{}{}
	}
}

// removeCluster forgets a member and its Services.
func (b *indexBuilder) removeCluster(name string) {
	name = strings.ToLower(name)
	bc := b.clusters[name]
	if bc == nil {
		return
	}
	for key := range bc.services {
		b.dirty[key] = struct{}{}
	}
	delete(b.clusters, name)
	b.order = slices.DeleteFunc(b.order, func(n string) bool { return n == name })
	b.topology = true
}

// setService sets a Service of a member that setCluster added; the
// builder keeps copies of its slices.
func (b *indexBuilder) setService(cluster string, ms *MemberService) {
	bc := b.clusters[strings.ToLower(cluster)]
	if bc == nil {
		return
	}
	key := serviceKey{strings.ToLower(ms.Namespace), strings.ToLower(ms.Name)}
	sc := &ServiceCluster{
		Cluster:     bc.cluster,
		Ports:       slices.Clone(ms.Ports),
		EntryPoints: slices.Clone(ms.EntryPoints),
		selection:   ms.Selection,
		Ready:       ms.Ready,
	}
	for k := range sc.EntryPoints {
		ep := &sc.EntryPoints[k]
		ep.Hostname = strings.ToLower(ep.Hostname)
		sc.Healthy = sc.Healthy || ep.Healthy
	}
	bc.services[key] = sc
	b.dirty[key] = struct{}{}
}

// removeService forgets a Service of a member.
func (b *indexBuilder) removeService(cluster, namespace, name string) {
	bc := b.clusters[strings.ToLower(cluster)]
	key := serviceKey{strings.ToLower(namespace), strings.ToLower(name)}
	if bc == nil || bc.services[key] == nil {
		return
	}
	delete(bc.services, key)
	b.dirty[key] = struct{}{}
}

// build returns the index of everything set so far, with serial as the
// SOA serial: the last index itself when nothing changed.
func (b *indexBuilder) build(serial uint32) *Index {
	last := b.last
	if last != nil && len(b.dirty) == 0 && !b.topology && last.serial == serial {
		return last
	}
	idx := &Index{serial: serial}
	if last != nil {
		*idx = *last
		idx.serial = serial
	}
	if b.topology || last == nil {
		b.placeClusters(idx)
	}
	var copied [indexShards]bool
	nsCopied := last == nil
	if last == nil {
		idx.namespaces = map[string]int{}
	}
	for key := range b.dirty {
		shard := shardOf(key.namespace, key.name)
		if !copied[shard] {
			copied[shard] = true
			idx.shards[shard] = maps.Clone(idx.shards[shard])
			if idx.shards[shard] == nil {
				idx.shards[shard] = map[serviceKey]*Service{}
			}
		}
		svc := b.service(key)
		_, had := idx.shards[shard][key]
		switch {
		case svc != nil:
			idx.shards[shard][key] = svc
		case had:
			delete(idx.shards[shard], key)
		}
		if had == (svc != nil) {
			continue
		}
		if !nsCopied {
			idx.namespaces, nsCopied = maps.Clone(idx.namespaces), true
		}
		if had {
			idx.count--
			if idx.namespaces[key.namespace]--; idx.namespaces[key.namespace] <= 0 {
				delete(idx.namespaces, key.namespace)
			}
		} else {
			idx.count++
			idx.namespaces[key.namespace]++
		}
	}
	clear(b.dirty)
	b.topology = false
	b.last = idx
	return idx
}

// placeClusters fills in the members and the regions and zones they are
// in: a handful of entries, made again whenever a member comes, goes or
// moves.
func (b *indexBuilder) placeClusters(idx *Index) {
	idx.clusters = make(map[string]*Cluster, len(b.clusters))
	idx.regions = map[string]map[string]bool{}
	for name, bc := range b.clusters {
		c := bc.cluster
		idx.clusters[name] = c
		if c.Region == "" {
			continue
		}
		zones := idx.regions[c.Region]
		if zones == nil {
			zones = map[string]bool{}
			idx.regions[c.Region] = zones
		}
		if c.Zone != "" {
			zones[c.Zone] = true
		}
	}
}

// service puts a federated Service together from its members, in the
// members' order; nil when no member has it.
func (b *indexBuilder) service(key serviceKey) *Service {
	var svc *Service
	for _, name := range b.order {
		sc := b.clusters[name].services[key]
		if sc == nil {
			continue
		}
		if svc == nil {
			svc = &Service{Namespace: key.namespace, Name: key.name}
		}
		if sc.Healthy && len(svc.Clusters) < maskedClusters {
			svc.healthy |= 1 << len(svc.Clusters)
		}
		svc.Clusters = append(svc.Clusters, sc)
		svc.Selection.merge(&sc.selection)
	}
	return svc
}
