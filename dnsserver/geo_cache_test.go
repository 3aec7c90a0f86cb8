package dnsserver

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/kfed-dev/kfed/test/geodb"
)

// collidingNetwork returns a /24 outside a's whose addresses share a's
// cache slot.
func collidingNetwork(t *testing.T, a netip.Addr) netip.Prefix {
	t.Helper()
	for i := range 1 << 16 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 0}), 24)
		if geoSlot(p.Addr()) == geoSlot(a) {
			return p
		}
	}
	t.Fatalf("no /24 of 11.0.0.0/8 shares %s's slot", a)
	return netip.Prefix{}
}

// TestGeoCache checks that cached lookups give what the database does:
// for two networks that share a slot, for an address the database has no
// network for, and after the database is replaced.
func TestGeoCache(t *testing.T) {
	tokyo := netip.MustParseAddr("192.0.2.7")
	other := collidingNetwork(t, tokyo)
	otherAddr := other.Addr().Next()
	cities := append(geodb.Lab(), geodb.City{Network: other.String(), Name: "Elsewhere", Country: "ZZ", Latitude: -10, Longitude: 20})
	db, path := openGeoDB(t, cities)

	check := func(addr netip.Addr, lat float64, net string) {
		t.Helper()
		loc, got := db.Lookup(addr)
		if !loc.Known || loc.Latitude != lat || got.String() != net {
			t.Errorf("Lookup(%s) = %+v in %s, want latitude %v in %s", addr, loc, got, lat, net)
		}
	}
	// Each lookup replaces the slot the other filled.
	for range 2 {
		check(tokyo, geodb.Tokyo[0].Latitude, "192.0.2.0/24")
		check(otherAddr, -10, other.String())
	}
	check(otherAddr, -10, other.String())
	if _, _, ok := db.cache.get(db.db.Load(), otherAddr.Next()); !ok {
		t.Errorf("a second address of %s missed the cache", other)
	}
	if loc, _ := db.Lookup(netip.MustParseAddr("8.8.8.8")); loc.Known {
		t.Errorf("8.8.8.8, in no network of the database, located at %+v", loc)
	}

	// A new database: what the old one answered is not used.
	moved := []geodb.City{{Network: other.String(), Name: "Moved", Country: "ZZ", Latitude: 30, Longitude: 40}}
	if err := geodb.Write(path, moved); err != nil {
		t.Fatal(err)
	}
	if err := db.load(); err != nil {
		t.Fatal(err)
	}
	check(otherAddr, 30, other.String())
	if loc, _ := db.Lookup(tokyo); loc.Known {
		t.Errorf("%s located at %+v after its network left the database", tokyo, loc)
	}
}

func TestGeoSlotSharedByNetwork(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"192.0.2.1", "192.0.2.254"},
		{"2001:db8:1::1", fmt.Sprintf("2001:db8:1:%x::1", 0xffff)},
	} {
		if geoSlot(netip.MustParseAddr(c.a)) != geoSlot(netip.MustParseAddr(c.b)) {
			t.Errorf("%s and %s, in one /24 or /48, hash to different slots", c.a, c.b)
		}
	}
}
