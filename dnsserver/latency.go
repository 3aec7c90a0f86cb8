package dnsserver

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kfed-dev/kfed/pkg/geo"
)

// LatencyTable holds configured latencies between regions, as cloud
// latency routing uses them: a client is taken to be in the table's region
// nearest to it, and each member costs the latency from there to the
// member's region.
type LatencyTable struct {
	between map[string]map[string]time.Duration
	// from are the regions clients can be in, with their coordinates.
	from []tableRegion
}

type tableRegion struct {
	name string
	loc  Location
}

// Set records the latency from one region to another. A client region
// must be one whose coordinates pkg/geo knows; the latency is taken to be
// the same both ways unless the other way is set too.
func (t *LatencyTable) Set(from, to string, d time.Duration) error {
	r, ok := geo.Lookup(from)
	if !ok {
		return fmt.Errorf("region %q is not a cloud region whose place is known", from)
	}
	if t.between == nil {
		t.between = map[string]map[string]time.Duration{}
	}
	if t.between[from] == nil {
		t.between[from] = map[string]time.Duration{}
		t.from = append(t.from, tableRegion{from, Location{r.Latitude, r.Longitude, true}})
	}
	t.between[from][to] = d
	return nil
}

// Len returns the number of client regions.
func (t *LatencyTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.from)
}

// region returns the table's client region nearest to loc, or "".
func (t *LatencyTable) region(loc Location) string {
	best, bestKm := "", math.Inf(1)
	for _, r := range t.from {
		if km := geo.DistanceKm(loc.Latitude, loc.Longitude, r.loc.Latitude, r.loc.Longitude); km < bestKm {
			best, bestKm = r.name, km
		}
	}
	return best
}

// latency returns the latency from region from to region to: the table's
// entry either way, or 0 within one region.
func (t *LatencyTable) latency(from, to string) (time.Duration, bool) {
	if d, ok := t.between[from][to]; ok {
		return d, true
	}
	if d, ok := t.between[to][from]; ok {
		return d, true
	}
	if from == to && from != "" {
		return 0, true
	}
	return 0, false
}

// RTTs holds this server's probe round-trip times to each member, replaced
// as a whole as the probes go.
type RTTs struct {
	p atomic.Pointer[map[string]time.Duration]
}

// Store replaces the round-trip times.
func (r *RTTs) Store(m map[string]time.Duration) { r.p.Store(&m) }

// Load returns the round-trip times by member name; nil before any.
func (r *RTTs) Load() map[string]time.Duration {
	if r == nil {
		return nil
	}
	if m := r.p.Load(); m != nil {
		return *m
	}
	return nil
}

// byLatency orders cands by latency and reports whether there was any to
// go by. For a client of known location whose nearest table region has an
// entry for a member's region, the table's latency counts; otherwise, the
// round-trip time of this server's probes to the member (the client is
// taken to be near this server). Members with a table latency come first,
// then those with a round-trip time, then the others, by name.
func byLatency(loc ClientLocation, table *LatencyTable, rtts map[string]time.Duration, cands []*ServiceCluster) bool {
	from := latencyFrom(loc, table)
	known := false
	for _, sc := range cands {
		if latencyOf(from, table, rtts, sc).tier < latencyUnknown {
			known = true
			break
		}
	}
	if !known {
		return false
	}
	slices.SortStableFunc(cands, func(a, b *ServiceCluster) int {
		ca, cb := latencyOf(from, table, rtts, a), latencyOf(from, table, rtts, b)
		return cmp.Or(cmp.Compare(ca.tier, cb.tier), cmp.Compare(ca.d, cb.d))
	})
	return true
}

// The tiers of a member's latency, best first.
const (
	latencyTable = iota
	latencyProbe
	latencyUnknown
)

// latencyCost is what a member costs a client: a tier and, within it, a
// latency.
type latencyCost struct {
	tier int
	d    time.Duration
}

// latencyFrom returns the table region a client is taken to be in, or ""
// when its location or the table is unknown.
func latencyFrom(loc ClientLocation, table *LatencyTable) string {
	if loc.Known && table.Len() > 0 {
		return table.region(loc.Location)
	}
	return ""
}

// latencyOf returns the latency to a member from the table region from.
func latencyOf(from string, table *LatencyTable, rtts map[string]time.Duration, sc *ServiceCluster) latencyCost {
	if from != "" {
		if d, ok := table.latency(from, sc.Region); ok {
			return latencyCost{latencyTable, d}
		}
	}
	if d, ok := rtts[sc.Name]; ok {
		return latencyCost{latencyProbe, d}
	}
	return latencyCost{latencyUnknown, 0}
}
