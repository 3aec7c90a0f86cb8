package dnsserver

import (
	"context"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
	"github.com/oschwald/maxminddb-golang/v2"
)

// Location is a point on Earth in decimal degrees.
type Location struct {
	Latitude, Longitude float64
	// Known is false when there is no point.
	Known bool
}

// ClientLocation is where a client is, as far as its address tells.
type ClientLocation struct {
	Location
	// Scope is the prefix length of the network the answer for this client
	// holds for: the ECS scope prefix of the response (RFC 7871).
	Scope uint8
}

// The results of client location lookups, for the lookups metric.
const (
	lookupFound      = "found"
	lookupNotFound   = "not_found"
	lookupPrivate    = "private"
	lookupMetadata   = "metadata"
	lookupNoDatabase = "no_database"
)

// Locator finds a client: from the EDNS Client Subnet option when the query
// has one, else from its source address, in a MaxMind-format database. With
// no database of its own it takes the geoip plugin's metadata
// (geoip/latitude, geoip/longitude), when the metadata plugin is there.
type Locator struct {
	// DB is the database; nil means the geoip plugin's metadata.
	DB *GeoDB
}

// Locate returns the client's location; an unknown one has Known false.
func (l *Locator) Locate(ctx context.Context, state request.Request) ClientLocation {
	return l.locate(ctx, state, nil)
}

// locate is Locate, telling tr, when not nil, what it looked up and found
// instead of counting the lookup.
func (l *Locator) locate(ctx context.Context, state request.Request, tr *trace) ClientLocation {
	addr, bits, ecs := clientSubnet(state)
	loc := ClientLocation{Scope: bits}
	var (
		result  string
		network netip.Prefix
	)
	switch {
	case !addr.IsValid() || addr.IsPrivate() || addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsUnspecified():
		result = lookupPrivate
	case l.DB == nil:
		loc.Location = metadataLocation(ctx)
		result = lookupMetadata
		if !loc.Known {
			result = lookupNoDatabase
		}
	default:
		loc.Location, network = l.DB.Lookup(addr)
		if network.IsValid() {
			loc.Scope = uint8(network.Bits())
		}
		result = lookupFound
		if !loc.Known {
			result = lookupNotFound
		}
	}
	if tr != nil {
		tr.located(addr, ecs, result, network, loc)
		return loc
	}
	locationLookups.WithLabelValues(metrics.WithServer(ctx), result).Inc()
	return loc
}

// clientSubnet returns the address to locate the client by: the ECS
// option's, masked to its source prefix, or the source address. bits is
// the source prefix length, or the address's length without ECS; ecs
// tells which.
func clientSubnet(state request.Request) (addr netip.Addr, bits uint8, ecs bool) {
	if e := ecsOption(state.Req); e != nil {
		a, ok := netip.AddrFromSlice(e.Address)
		if !ok {
			return netip.Addr{}, 0, true
		}
		a = a.Unmap()
		if e.Family == 1 && !a.Is4() {
			return netip.Addr{}, 0, true
		}
		p, err := a.Prefix(int(e.SourceNetmask))
		if err != nil {
			return netip.Addr{}, 0, true
		}
		return p.Addr(), e.SourceNetmask, true
	}
	a, err := netip.ParseAddr(state.IP())
	if err != nil {
		return netip.Addr{}, 0, false
	}
	a = a.Unmap()
	return a, uint8(a.BitLen()), false
}

// ecsOption returns the query's EDNS Client Subnet option, or nil.
func ecsOption(r *dns.Msg) *dns.EDNS0_SUBNET {
	o := r.IsEdns0()
	if o == nil {
		return nil
	}
	for _, opt := range o.Option {
		if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
			return e
		}
	}
	return nil
}

// metadataLocation reads the geoip plugin's metadata.
func metadataLocation(ctx context.Context) Location {
	lat, lon := metadata.ValueFunc(ctx, "geoip/latitude"), metadata.ValueFunc(ctx, "geoip/longitude")
	if lat == nil || lon == nil {
		return Location{}
	}
	la, err1 := strconv.ParseFloat(lat(), 64)
	lo, err2 := strconv.ParseFloat(lon(), 64)
	if err1 != nil || err2 != nil || (la == 0 && lo == 0) {
		return Location{}
	}
	return Location{Latitude: la, Longitude: lo, Known: true}
}

// GeoDB is a MaxMind-format database that follows its file: Watch reopens
// it whenever the file changes, and a query sees either the old database
// or the new one, never a mix.
type GeoDB struct {
	path string
	db   atomic.Pointer[maxminddb.Reader]

	// stat belongs to Watch: the file as last read.
	stat os.FileInfo

	// cache holds the networks found last (geo_cache.go).
	cache geoCache

	stop chan struct{}
	done sync.WaitGroup
}

// OpenGeoDB opens the database at path. The error says why a missing or
// corrupt file cannot be used.
func OpenGeoDB(path string) (*GeoDB, error) {
	g := &GeoDB{path: path}
	if err := g.load(); err != nil {
		return nil, err
	}
	return g, nil
}

// load reads the file, checks it, and swaps it in.
func (g *GeoDB) load() error {
	st, err := os.Stat(g.path)
	if err != nil {
		return err
	}
	// Read into memory rather than mapped: the file may be replaced or
	// rewritten under us, and a reader in use must not change.
	data, err := os.ReadFile(g.path)
	if err != nil {
		return err
	}
	g.stat = st
	db, err := maxminddb.OpenBytes(data)
	if err != nil {
		return fmt.Errorf("%s is not a MaxMind database: %w", g.path, err)
	}
	// A lookup decodes the record layout we read; a database without
	// locations (an ASN one, say) fails here rather than on every query.
	next, stop := iter.Pull(db.Networks())
	first, ok := next()
	stop()
	if ok {
		var rec geoRecord
		if err := first.Decode(&rec); err != nil {
			return fmt.Errorf("%s: reading a record: %w", g.path, err)
		}
	}
	g.db.Store(db)
	return nil
}

// geoRecord is the part of a GeoLite2-City record the plugin uses.
type geoRecord struct {
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
}

// Lookup returns the location of addr and the database network it is in;
// the location is unknown when the network has none.
func (g *GeoDB) Lookup(addr netip.Addr) (Location, netip.Prefix) {
	db := g.db.Load()
	if loc, net, ok := g.cache.get(db, addr); ok {
		return loc, net
	}
	loc, net := lookup(db, addr)
	g.cache.put(db, addr, net, loc)
	return loc, net
}

// lookup reads addr's location and network from db.
func lookup(db *maxminddb.Reader, addr netip.Addr) (Location, netip.Prefix) {
	res := db.Lookup(addr)
	if !res.Found() {
		return Location{}, res.Prefix()
	}
	var rec geoRecord
	if err := res.Decode(&rec); err != nil || rec.Location.Latitude == nil || rec.Location.Longitude == nil {
		return Location{}, res.Prefix()
	}
	return Location{Latitude: *rec.Location.Latitude, Longitude: *rec.Location.Longitude, Known: true}, res.Prefix()
}

// Watch checks the file every interval and reloads it when it changed
// (size, modification time or the file itself, as after a rename), until
// Close. A file that does not load is logged and the database in use kept:
// write the new file beside the old one and rename it over, so that a
// half-written file is never read.
func (g *GeoDB) Watch(interval time.Duration) {
	g.stop = make(chan struct{})
	g.done.Add(1)
	go func() {
		defer g.done.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-tick.C:
			}
			st, err := os.Stat(g.path)
			if err != nil || sameFile(st, g.stat) {
				continue
			}
			if err := g.load(); err != nil {
				log.Errorf("geoip: keeping the database in use: %v", err)
				geoReloadsTotal.WithLabelValues("failure").Inc()
				continue
			}
			log.Infof("geoip: reloaded %s", g.path)
			geoReloadsTotal.WithLabelValues("success").Inc()
		}
	}()
}

func sameFile(a, b os.FileInfo) bool {
	return b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Close stops Watch.
func (g *GeoDB) Close() {
	if g.stop != nil {
		close(g.stop)
		g.done.Wait()
		g.stop = nil
	}
}

// queryInfo is what the selector tells the handler about a query. It
// travels to the selector as the query's context itself, which costs one
// allocation where a queryInfo under context.WithValue would cost two.
type queryInfo struct {
	context.Context
	// located is set when the answer depends on the client's address, and
	// scope is then the ECS scope prefix length.
	located bool
	scope   uint8
}

// queryKey is the key under which a queryInfo answers Value with itself.
type queryKey struct{}

// withQuery returns ctx carrying a new queryInfo, and the queryInfo.
func withQuery(ctx context.Context) (context.Context, *queryInfo) {
	q := &queryInfo{Context: ctx}
	return q, q
}

// Value implements context.Context.
func (q *queryInfo) Value(key any) any {
	if key == (queryKey{}) {
		return q
	}
	return q.Context.Value(key)
}

func queryFrom(ctx context.Context) *queryInfo {
	q, _ := ctx.Value(queryKey{}).(*queryInfo)
	return q
}

// ecsReply is the OPT record of a reply to a query with ECS, with its one
// option and the additional section that holds it, in one allocation.
type ecsReply struct {
	opt   dns.OPT
	ecs   dns.EDNS0_SUBNET
	opts  [1]dns.EDNS0
	extra [1]dns.RR
}

// setECS answers a query's ECS option (RFC 7871, section 7.2.1): the same
// family, address and source prefix, and the scope prefix length the answer
// holds for, 0 when it does not depend on the client's address. The reply
// gets an OPT record of its own, which the server keeps.
func setECS(req, m *dns.Msg, q *queryInfo) {
	e := ecsOption(req)
	if e == nil {
		return
	}
	r := &ecsReply{ecs: *e}
	r.ecs.SourceScope = 0
	if q != nil && q.located && e.SourceNetmask > 0 {
		r.ecs.SourceScope = q.scope
	}
	o := req.IsEdns0()
	r.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}
	r.opt.SetUDPSize(o.UDPSize())
	if o.Do() {
		r.opt.SetDo()
	}
	r.opts[0] = &r.ecs
	r.opt.Option = r.opts[:]
	if m.Extra == nil {
		r.extra[0] = &r.opt
		m.Extra = r.extra[:]
		return
	}
	m.Extra = append(m.Extra, &r.opt)
}
