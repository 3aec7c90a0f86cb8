//go:build e2e

package geo_test

import (
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/geodb"
)

// The subnets of the test database's cities.
const (
	tokyo    = "192.0.2.0/24"
	dublin   = "198.51.100.0/24"
	virginia = "203.0.113.0/24"
)

func name(svc string) string {
	return svc + "." + appNS + "." + federation + ".svc." + domain
}

// query asks the server over UDP with EDNS0, and with an ECS option for
// subnet unless it is "".
func (s *dnsServer) query(qname string, qtype uint16, subnet string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.SetEdns0(1232, false)
	if subnet != "" {
		p := netip.MustParsePrefix(subnet)
		e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
		if p.Addr().Is6() {
			e.Family = 2
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, e)
	}
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.addr)
	return r, err
}

// ask returns the members answered for svc, in order, and the ECS scope of
// the reply (-1 without ECS).
func (s *dnsServer) ask(t *testing.T, svc, subnet string) (string, int) {
	t.Helper()
	qtype := dns.TypeA
	r, err := s.query(name(svc), qtype, subnet)
	if err != nil {
		t.Fatalf("server %s, %s from %q: %v", s.name, svc, subnet, err)
	}
	scope := -1
	if o := r.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_SUBNET); ok {
				scope = int(e.SourceScope)
			}
		}
	}
	return strings.Join(clusters(r), ","), scope
}

// clusters returns the members whose addresses an answer holds, in order.
func clusters(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, clusterOf[a.A.String()])
		}
	}
	return out
}

// eventually waits until s answers svc from subnet with want.
func (s *dnsServer) eventually(t *testing.T, svc, subnet, want string) {
	t.Helper()
	var got string
	err := waitUntil(t.Context(), 20*time.Second, func() bool {
		got, _ = s.ask(t, svc, subnet)
		return got == want
	})
	if err != nil {
		t.Fatalf("server %s, %s from %q: %q, want %q", s.name, svc, subnet, got, want)
	}
}

func setDown(t *testing.T, svc, cluster string, down bool) {
	t.Helper()
	if err := shared.SetLoadBalancerDown(lbAddr[svc][cluster], down); err != nil {
		t.Fatal(err)
	}
}

// TestGeo is point 1: each city's subnet gets its nearest member, the next
// nearest while that one is down, and it back on recovery; the ECS scope
// is the database's network.
func TestGeo(t *testing.T) {
	for _, tc := range []struct{ subnet, want string }{
		{tokyo, "jpn"}, {dublin, "eur"}, {virginia, "usa"},
		{"192.0.2.77/32", "jpn"},
		{"2001:db8:1::/56", "jpn"}, {"2001:db8:2::/56", "eur"}, {"2001:db8:3::/56", "usa"},
	} {
		got, scope := serverA.ask(t, "web", tc.subnet)
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.subnet, got, tc.want)
		}
		wantScope := 24
		if strings.Contains(tc.subnet, ":") {
			wantScope = 48
		}
		if scope != wantScope {
			t.Errorf("%s: ECS scope %d, want %d", tc.subnet, scope, wantScope)
		}
	}

	setDown(t, "web", "jpn", true)
	defer setDown(t, "web", "jpn", false)
	// Tokyo to Dublin is about 9,600 km, to Virginia 10,900.
	serverA.eventually(t, "web", tokyo, "eur")
	if got, _ := serverA.ask(t, "web", virginia); got != "usa" {
		t.Errorf("Virginia while jpn is down: %q", got)
	}
	setDown(t, "web", "jpn", false)
	serverA.eventually(t, "web", tokyo, "jpn")
}

// TestLatencyTable is point 2's first half: the configured table, not
// geography, decides for a located client.
func TestLatencyTable(t *testing.T) {
	got, scope := serverA.ask(t, "lat", tokyo)
	if got != "usa" {
		t.Errorf("Tokyo under latency: %q, want usa (10 ms in the table)", got)
	}
	if scope != 24 {
		t.Errorf("ECS scope %d, want 24", scope)
	}
}

// TestLatencyProbes is point 2's second half: two servers whose probes see
// different round trips (the load balancer delays its answers to each by
// source address) each prefer their own fastest member for a client they
// cannot locate.
func TestLatencyProbes(t *testing.T) {
	serverA.eventually(t, "lat", "", "jpn")
	serverB.eventually(t, "lat", "", "usa")
	// b's Corefile policy is latency.
	serverB.eventually(t, "web", "", "usa")
}

// TestWeighted is point 3's first half: 10,000 answers under usa=3,eur=1.
func TestWeighted(t *testing.T) {
	const n = 10000
	counts := map[string]int{}
	for range n {
		got, _ := serverA.ask(t, "wtd", "")
		counts[got]++
	}
	// usa has p = 0.75: sd = sqrt(n p (1-p)) = 43 answers; the tolerance
	// is 5 sd, about 217 answers or 2.2 points of the share.
	tol := 5 * math.Sqrt(n*0.75*0.25)
	if d := math.Abs(float64(counts["usa"]) - 0.75*n); d > tol || counts["usa"]+counts["eur"] != n {
		t.Errorf("10,000 answers: %v; want usa 7500 ± %.0f and the rest eur", counts, tol)
	}
	t.Logf("10,000 answers: %v", counts)
}

// TestFailover is point 3's second half: the order eur, jpn, usa.
func TestFailover(t *testing.T) {
	if got, _ := serverA.ask(t, "fo", tokyo); got != "eur" {
		t.Errorf("all up: %q, want eur", got)
	}
	setDown(t, "fo", "eur", true)
	defer setDown(t, "fo", "eur", false)
	serverA.eventually(t, "fo", "", "jpn")
	setDown(t, "fo", "jpn", true)
	defer setDown(t, "fo", "jpn", false)
	serverA.eventually(t, "fo", "", "usa")
	setDown(t, "fo", "eur", false)
	serverA.eventually(t, "fo", "", "eur")
}

// TestNoLocation is point 4: under geo, a client the database does not
// place (no ECS from loopback, a private subnet, an address it lacks)
// falls back to latency: server a's fastest member, jpn.
func TestNoLocation(t *testing.T) {
	for _, subnet := range []string{"", "10.1.2.0/24", "8.8.8.0/24"} {
		serverA.eventually(t, "web", subnet, "jpn")
	}
	// Not tailored to a placed network: the scope is the source prefix
	// or the database's empty network, never 0 under geo.
	if _, scope := serverA.ask(t, "web", "10.1.2.0/24"); scope != 24 {
		t.Errorf("private subnet: scope %d, want 24", scope)
	}
}

// TestReload is point 5: a new database file changes the answers without a
// restart.
func TestReload(t *testing.T) {
	moved := append([]geodb.City{{Network: tokyo, Name: "Dublin", Country: "IE", Latitude: 53.3498, Longitude: -6.2603}},
		append(geodb.Dublin, geodb.Virginia...)...)
	if err := geodb.Write(geoPath, moved); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := geodb.Write(geoPath, geodb.Lab()); err != nil {
			t.Error(err)
		}
		serverA.eventually(t, "web", tokyo, "jpn")
	}()
	serverA.eventually(t, "web", tokyo, "eur")
}
