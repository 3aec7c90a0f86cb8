package dnsserver

import (
	"context"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/metadata"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/geo"
	"github.com/kfed-dev/kfed/test/geodb"
)

// geoMembers are three members in the lab's regions, each serving web at
// one address, with the annotations given.
func geoMembers(sel Selection, down ...string) []Member {
	var out []Member
	for i, c := range []struct{ name, region string }{{"usa", "us-east-1"}, {"eur", "eu-west-1"}, {"jpn", "ap-northeast-1"}} {
		r, _ := geo.Lookup(c.region)
		out = append(out, Member{
			Cluster: Cluster{Name: c.name, Region: c.region, Location: Location{r.Latitude, r.Longitude, true}},
			Services: []MemberService{{
				Namespace: "default", Name: "web",
				EntryPoints: []EntryPoint{{Addr: netip.AddrFrom4([4]byte{127, 0, byte(i + 1), 1}), Healthy: !slices.Contains(down, c.name)}},
				Selection:   sel,
			}},
		})
	}
	return out
}

// addrCluster maps geoMembers' addresses back to the members.
var addrCluster = map[string]string{"127.0.1.1": "usa", "127.0.2.1": "eur", "127.0.3.1": "jpn"}

func geoFed(t testing.TB, policy Policy, sel Selection, down ...string) *Fed {
	t.Helper()
	f := New("magicring", []string{testZone})
	f.Policy.Default = policy
	path := filepath.Join(t.TempDir(), "cities.mmdb")
	if err := geodb.Write(path, geodb.Lab()); err != nil {
		t.Fatal(err)
	}
	db, err := OpenGeoDB(path)
	if err != nil {
		t.Fatal(err)
	}
	f.GeoDB = db
	f.Policy.Locate = &Locator{DB: db}
	f.SetIndex(BuildIndex(geoMembers(sel, down...), testSerial))
	return f
}

// ask queries web's A record with an ECS subnet ("" for none) and returns
// the members answered, in order, and the reply.
func ask(t *testing.T, f *Fed, subnet string) ([]string, *dns.Msg) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion("web"+svc+testZone, dns.TypeA)
	if subnet != "" {
		p := netip.MustParsePrefix(subnet)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
		if p.Addr().Is6() {
			e.Family = 2
		}
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, e)
	}
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := f.ServeDNS(context.Background(), rec, m); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range rec.Msg.Answer {
		got = append(got, addrCluster[rr.(*dns.A).A.String()])
	}
	return got, rec.Msg
}

func replyScope(t *testing.T, r *dns.Msg) int {
	t.Helper()
	if e := ecsOption(r); e != nil {
		return int(e.SourceScope)
	}
	return -1
}

func TestDistanceOrder(t *testing.T) {
	cands := func() []*ServiceCluster {
		return BuildIndex(geoMembers(Selection{}), 1).Service("default", "web").Clusters
	}
	names := func(scs []*ServiceCluster) []string {
		var out []string
		for _, sc := range scs {
			out = append(out, sc.Name)
		}
		return out
	}
	for _, tc := range []struct {
		city geodb.City
		want []string
	}{
		{geodb.Tokyo[0], []string{"jpn", "eur", "usa"}},
		{geodb.Dublin[0], []string{"eur", "usa", "jpn"}},
		{geodb.Virginia[0], []string{"usa", "eur", "jpn"}},
	} {
		loc := ClientLocation{Location: Location{tc.city.Latitude, tc.city.Longitude, true}}
		if got := names(byDistance(loc, cands())); !slices.Equal(got, tc.want) {
			t.Errorf("from %s: %v, want %v", tc.city.Name, got, tc.want)
		}
	}
	// A member of unknown location goes last.
	cs := cands()
	cs[0].Location = Location{} // eur, first by name
	loc := ClientLocation{Location: Location{53.35, -6.26, true}}
	if got := names(byDistance(loc, cs)); !slices.Equal(got, []string{"usa", "jpn", "eur"}) {
		t.Errorf("eur without location, from Dublin: %v", got)
	}
	// Dublin to Tokyo is about 9,600 km.
	if d := geo.DistanceKm(53.35, -6.26, 35.68, 139.69); math.Abs(d-9600) > 100 {
		t.Errorf("Dublin to Tokyo: %.0f km", d)
	}
}

func TestGeoPolicy(t *testing.T) {
	f := geoFed(t, PolicyGeo, Selection{})
	for _, tc := range []struct{ subnet, want string }{
		{"192.0.2.0/24", "jpn"},
		{"198.51.100.0/24", "eur"},
		{"203.0.113.0/24", "usa"},
		{"2001:db8:1::/56", "jpn"},
		{"2001:db8:2::/56", "eur"},
		{"2001:db8:3::/56", "usa"},
	} {
		got, r := ask(t, f, tc.subnet)
		if !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: %v, want [%s]", tc.subnet, got, tc.want)
		}
		// The database's networks are /24 and /48.
		want := 24
		if strings.Contains(tc.subnet, ":") {
			want = 48
		}
		if s := replyScope(t, r); s != want {
			t.Errorf("%s: ECS scope %d, want %d", tc.subnet, s, want)
		}
	}

	// The nearest has nothing healthy: the next.
	f = geoFed(t, PolicyGeo, Selection{}, "jpn")
	if got, _ := ask(t, f, "192.0.2.0/24"); !slices.Equal(got, []string{"eur"}) {
		t.Errorf("Tokyo with jpn down: %v, want [eur]", got)
	}

	// The nearest N.
	f = geoFed(t, PolicyGeo, Selection{})
	f.Policy.Nearest = 2
	if got, _ := ask(t, f, "203.0.113.7/32"); !slices.Equal(got, []string{"usa", "eur"}) {
		t.Errorf("Virginia, nearest 2: %v", got)
	}

	// The annotation overrides the Corefile.
	f = geoFed(t, PolicyAll, Selection{Policy: PolicyGeo})
	if got, _ := ask(t, f, "198.51.100.0/24"); !slices.Equal(got, []string{"eur"}) {
		t.Errorf("geo by annotation: %v", got)
	}
}

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

func TestWeightedDistribution(t *testing.T) {
	f := geoFed(t, PolicyWeighted, Selection{Weights: map[string]int{"usa": 3, "eur": 1}})
	const n = 10000
	counts := map[string]int{}
	for range n {
		got, _ := ask(t, f, "")
		if len(got) != 1 {
			t.Fatalf("weighted answered %v, want one member", got)
		}
		counts[got[0]]++
	}
	// Binomial: usa has p = 0.75, so sd = sqrt(n p (1-p)) = 43; 5 sd
	// (about 220) is a bound a correct picker breaks once in 1.7 million
	// runs.
	if d := math.Abs(float64(counts["usa"]) - 0.75*n); d > 5*math.Sqrt(n*0.75*0.25) || counts["jpn"] != 0 {
		t.Errorf("10,000 picks with usa=3,eur=1: %v", counts)
	}

	// Without weights, equal ones; with none among the healthy, all.
	f = geoFed(t, PolicyWeighted, Selection{Weights: map[string]int{"jpn": 1}}, "jpn")
	if got, _ := ask(t, f, ""); len(got) != 2 {
		t.Errorf("weighted with no weight left: %v, want every healthy member", got)
	}
}

func TestFailoverOrder(t *testing.T) {
	sel := Selection{Policy: PolicyFailover, Failover: []string{"jpn", "usa", "eur"}}
	for _, tc := range []struct {
		down []string
		want string
	}{
		{nil, "jpn"},
		{[]string{"jpn"}, "usa"},
		{[]string{"jpn", "usa"}, "eur"},
	} {
		f := geoFed(t, PolicyAll, sel, tc.down...)
		if got, _ := ask(t, f, "198.51.100.0/24"); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("down %v: %v, want [%s]", tc.down, got, tc.want)
		}
	}
	// Members not listed follow, by name.
	f := geoFed(t, PolicyFailover, Selection{Failover: []string{"jpn"}}, "jpn")
	if got, _ := ask(t, f, ""); !slices.Equal(got, []string{"eur"}) {
		t.Errorf("unlisted: %v, want [eur]", got)
	}
}

func TestAllRotates(t *testing.T) {
	f := geoFed(t, PolicyAll, Selection{})
	firsts := map[string]bool{}
	for range 3 {
		got, _ := ask(t, f, "")
		if len(got) != 3 {
			t.Fatalf("all: %v", got)
		}
		firsts[got[0]] = true
	}
	if len(firsts) != 3 {
		t.Errorf("three answers started with %v, want each member once", firsts)
	}
}

func TestFallback(t *testing.T) {
	// A private source address and no ECS: no location. Under geo, the
	// latency policy by this server's round trips...
	f := geoFed(t, PolicyGeo, Selection{})
	f.Policy.RTT.Store(map[string]time.Duration{"usa": 80 * time.Millisecond, "eur": 5 * time.Millisecond, "jpn": 200 * time.Millisecond})
	if got, _ := ask(t, f, ""); !slices.Equal(got, []string{"eur"}) {
		t.Errorf("geo, no location, round trips: %v, want [eur]", got)
	}
	// ...and with none, every member.
	f.Policy.RTT.Store(nil)
	if got, _ := ask(t, f, ""); len(got) != 3 {
		t.Errorf("geo, no location, no round trips: %v, want all", got)
	}
	// A public address the database does not know is no location either.
	f.Policy.RTT.Store(map[string]time.Duration{"jpn": time.Millisecond})
	if got, _ := ask(t, f, "8.8.8.0/24"); !slices.Equal(got, []string{"jpn"}) {
		t.Errorf("geo, not in the database: %v, want [jpn]", got)
	}
}

func TestLatencyTable(t *testing.T) {
	table := &LatencyTable{}
	for _, e := range []struct {
		from, to string
		d        time.Duration
	}{
		// Deliberately not geography: Tokyo is routed to usa.
		{"ap-northeast-1", "us-east-1", 10 * time.Millisecond},
		{"ap-northeast-1", "ap-northeast-1", 50 * time.Millisecond},
		{"ap-northeast-1", "eu-west-1", 200 * time.Millisecond},
		{"eu-west-1", "us-east-1", 70 * time.Millisecond},
	} {
		if err := table.Set(e.from, e.to, e.d); err != nil {
			t.Fatal(err)
		}
	}
	if err := table.Set("atlantis-1", "eu-west-1", time.Millisecond); err == nil {
		t.Error("a region of unknown place was accepted")
	}
	f := geoFed(t, PolicyLatency, Selection{})
	f.Policy.Latency = table
	f.Policy.RTT.Store(map[string]time.Duration{"jpn": time.Millisecond})
	for _, tc := range []struct {
		subnet string
		want   []string
	}{
		{"192.0.2.0/24", []string{"usa"}},
		// Dublin is in eu-west-1: its own region costs 0, usa 70 ms.
		{"198.51.100.0/24", []string{"eur"}},
		// Virginia's nearest table region is eu-west-1 too.
		{"203.0.113.0/24", []string{"eur"}},
		// No location: this server's round trips.
		{"", []string{"jpn"}},
	} {
		if got, _ := ask(t, f, tc.subnet); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.subnet, got, tc.want)
		}
	}
	f.Policy.Nearest = 3
	if got, _ := ask(t, f, "192.0.2.0/24"); !slices.Equal(got, []string{"usa", "jpn", "eur"}) {
		t.Errorf("Tokyo, nearest 3: %v", got)
	}
}

func TestSelectionAnnotations(t *testing.T) {
	s := selectionOf(map[string]string{
		AnnotationDNSPolicy:   " Weighted ",
		AnnotationDNSWeights:  "usa=3, EUR=1,bad,jpn=x,neg=-1",
		AnnotationDNSFailover: "jpn, usa,,jpn",
	})
	if s.Policy != PolicyWeighted || len(s.Weights) != 2 || s.Weights["usa"] != 3 || s.Weights["eur"] != 1 || !slices.Equal(s.Failover, []string{"jpn", "usa"}) {
		t.Errorf("selection %+v", s)
	}
	if s := selectionOf(map[string]string{AnnotationDNSPolicy: "nearest"}); s.Policy != PolicyDefault {
		t.Errorf("unknown policy read as %s", s.Policy)
	}
	// The first member by name that sets a field gives it.
	members := geoMembers(Selection{})
	members[0].Services[0].Selection = Selection{Policy: PolicyFailover}                     // usa
	members[1].Services[0].Selection = Selection{Policy: PolicyGeo, Failover: []string{"x"}} // eur
	got := BuildIndex(members, 1).Service("default", "web").Selection
	if got.Policy != PolicyGeo || !slices.Equal(got.Failover, []string{"x"}) {
		t.Errorf("merged %+v, want eur's", got)
	}
}

func TestGeoDBReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cities.mmdb")
	if err := geodb.Write(path, geodb.Lab()); err != nil {
		t.Fatal(err)
	}
	db, err := OpenGeoDB(path)
	if err != nil {
		t.Fatal(err)
	}
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

func TestParseGeo(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cities.mmdb")
	if err := geodb.Write(good, geodb.Lab()); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}

	c := caddy.NewTestController("dns", "fed magicring {\n\tpolicy geo\n\tnearest 2\n\tgeoip "+good+
		"\n\tgeoip_reload 1s\n\tlatency ap-northeast-1 us-east-1 10ms\n\tprobe_source 127.0.0.11\n\tns ns1.example.net\n}")
	c.ServerBlockKeys = []string{testZone}
	f, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if f.Policy.Default != PolicyGeo || f.Policy.Nearest != 2 || f.GeoDB == nil || f.Policy.Locate.DB != f.GeoDB ||
		f.GeoReload != time.Second || f.Policy.Latency.Len() != 1 || f.Watch.ProbeSource != netip.MustParseAddr("127.0.0.11") {
		t.Errorf("parsed %+v, policy %+v", f, f.Policy)
	}
	if f.Selector != Selector(f.Policy) {
		t.Error("the policy selector is not the selector")
	}

	for _, tc := range []struct{ input, want string }{
		{"policy nearest", `not "nearest"`},
		{"policy", "policy takes one argument"},
		{"nearest 0", `nearest "0"`},
		{"geoip " + filepath.Join(dir, "missing.mmdb"), `geoip "` + filepath.Join(dir, "missing.mmdb") + `": stat`},
		{"geoip " + corrupt, "is not a MaxMind database"},
		{"geoip " + good + "\n\tgeoip " + good, "only one database"},
		{"geoip_reload 1ms", `geoip_reload "1ms"`},
		{"latency eu-west-1 us-east-1", "latency takes a client region"},
		{"latency eu-west-1 us-east-1 soon", `latency eu-west-1 us-east-1 "soon"`},
		{"latency atlantis-1 us-east-1 1ms", `region "atlantis-1"`},
		{"probe_source here", `probe_source "here"`},
	} {
		c := caddy.NewTestController("dns", "fed magicring {\n\t"+tc.input+"\n}")
		c.ServerBlockKeys = []string{testZone}
		_, err := parse(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.input, err, tc.want)
		}
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
