package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/oschwald/maxminddb-golang/v2"
)

// A lookup in the database walks its tree and decodes the record, by
// reflection, out of a map that holds names in many languages as well: a
// twelfth of a geo query's processor time under dnsperf. Clients come back
// from the same networks, so each GeoDB keeps the networks it found last in
// a small direct-mapped cache: a slot per network hash, holding the
// database network, which every address in it shares, and its location.
// It is bounded whatever the clients send, and it needs no lock: a slot
// is replaced whole, and an entry of an older database never matches.

// geoCacheBits sets the cache at 4,096 slots, 32 KiB of pointers and at
// most 300 KiB of entries.
const geoCacheBits = 12

// geoCached is one network the database answered for.
type geoCached struct {
	db  *maxminddb.Reader
	net netip.Prefix
	loc Location
}

// geoCache is the direct-mapped cache of a GeoDB.
type geoCache [1 << geoCacheBits]atomic.Pointer[geoCached]

// get returns the location cached for addr by db, if any.
func (c *geoCache) get(db *maxminddb.Reader, addr netip.Addr) (Location, netip.Prefix, bool) {
	e := c[geoSlot(addr)].Load()
	if e == nil || e.db != db || !e.net.Contains(addr) {
		return Location{}, netip.Prefix{}, false
	}
	return e.loc, e.net, true
}

// put caches what db answered for addr: loc, in network net. A lookup that
// named no network is not cached.
func (c *geoCache) put(db *maxminddb.Reader, addr netip.Addr, net netip.Prefix, loc Location) {
	if !net.IsValid() || !net.Contains(addr) {
		return
	}
	c[geoSlot(addr)].Store(&geoCached{db: db, net: net, loc: loc})
}

// geoSlot hashes the part of addr that a database network of a city is
// seldom narrower than, a /24 or a /48, so that the addresses of one
// network share a slot.
func geoSlot(addr netip.Addr) int {
	var h uint64
	if addr.Is4() {
		b := addr.As4()
		h = uint64(binary.BigEndian.Uint32(b[:]) >> 8)
	} else {
		b := addr.As16()
		h = binary.BigEndian.Uint64(b[:8]) >> 16
	}
	h *= 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all of h.
	return int(h >> (64 - geoCacheBits))
}
