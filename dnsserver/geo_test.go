package dnsserver

import (
	"context"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/geodb"
)

func TestECSScope(t *testing.T) {
	// Not tailored to the client: scope 0, address and source echoed.
	f := geoFed(t, PolicyAll, Selection{})
	_, r := ask(t, f, "192.0.2.0/24")
	e := ecsOption(r)
	if e == nil || e.SourceScope != 0 || e.SourceNetmask != 24 || !net.IP(e.Address).Equal(net.ParseIP("192.0.2.0")) {
		t.Errorf("all: ECS %v, want 192.0.2.0/24 scope 0", e)
	}
	// Source prefix 0: the client asks not to be located.
	f = geoFed(t, PolicyGeo, Selection{})
	if _, r := ask(t, f, "0.0.0.0/0"); replyScope(t, r) != 0 {
		t.Errorf("source /0: scope %d", replyScope(t, r))
	}
	// No ECS in the query, none in the reply.
	if _, r := ask(t, f, ""); r.IsEdns0() != nil {
		t.Errorf("OPT in the reply to a query without EDNS: %v", r.IsEdns0())
	}
	// Not in the database: the scope of the empty network it fell in.
	if _, r := ask(t, f, "8.8.8.0/24"); replyScope(t, r) <= 0 || replyScope(t, r) > 24 {
		t.Errorf("not found: scope %d, want the empty network's", replyScope(t, r))
	}
}

func TestGeoDBReload(t *testing.T) {
	db, path := openGeoDB(t, geodb.Lab())
	db.Watch(10 * time.Millisecond)
	defer db.Close()
	tokyo := netip.MustParseAddr("192.0.2.1")
	if loc, _ := db.Lookup(tokyo); !loc.Known || loc.Latitude != geodb.Tokyo[0].Latitude {
		t.Fatalf("192.0.2.1 at %+v", loc)
	}
	// 192.0.2.0/24 moves to Dublin.
	moved := geodb.City{Network: "192.0.2.0/24", Name: "Dublin", Country: "IE", Latitude: 53.3498, Longitude: -6.2603}
	if err := geodb.Write(path, []geodb.City{moved}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if loc, _ := db.Lookup(tokyo); loc.Latitude == moved.Latitude {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new database was not loaded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A corrupt file is not loaded; the database in use stays.
	if err := os.WriteFile(path, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if loc, _ := db.Lookup(tokyo); loc.Latitude != moved.Latitude {
		t.Errorf("after a corrupt file: %+v", loc)
	}
}

// TestMetadataLocation checks the geoip plugin's metadata as the location
// when fed has no database of its own.
func TestMetadataLocation(t *testing.T) {
	f := geoFed(t, PolicyGeo, Selection{})
	f.Policy.Locate = &Locator{}
	ctx := metadataContext(map[string]string{"geoip/latitude": "35.68", "geoip/longitude": "139.69"})
	m := new(dns.Msg)
	m.SetQuestion("web"+svc+testZone, dns.TypeA)
	state := request.Request{W: &test.ResponseWriter{RemoteIP: "192.0.2.1"}, Req: m}
	cands := slices.Clone(f.Index().Service("default", "web").Clusters)
	got := f.Policy.Select(ctx, state, f.Index().Service("default", "web"), cands)
	if len(got) != 1 || got[0].Name != "jpn" {
		t.Errorf("metadata in Tokyo: %v", got)
	}
}

func metadataContext(values map[string]string) context.Context {
	ctx := metadata.ContextWithMetadata(context.Background())
	for k, v := range values {
		metadata.SetValueFunc(ctx, k, func() string { return v })
	}
	return ctx
}
