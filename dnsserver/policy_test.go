package dnsserver

import (
	"context"
	"math"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
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

// openGeoDB writes cities to a database file of the test's and opens it.
func openGeoDB(t testing.TB, cities []geodb.City) (*GeoDB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cities.mmdb")
	if err := geodb.Write(path, cities); err != nil {
		t.Fatal(err)
	}
	db, err := OpenGeoDB(path)
	if err != nil {
		t.Fatal(err)
	}
	return db, path
}

func geoFed(t testing.TB, policy Policy, sel Selection, down ...string) *Fed {
	t.Helper()
	f := New("magicring", []string{testZone})
	f.Policy.Default = policy
	db, _ := openGeoDB(t, geodb.Lab())
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
