package framework

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Zonemaster asks port 53 only, and starts at root servers: the servers it
// tests, the parent zone and the root are all served on port 53 of loopback
// addresses in 127.0.53.0/24, outside the lab's load-balancer pools
// (127.10.0.0 to 127.250.255.255).
var zoneServerAddrs = netip.MustParsePrefix("127.0.53.0/24")

// FreePort53Addrs returns n loopback addresses whose port 53 is free for
// both UDP and TCP. Binding port 53 needs root (or CAP_NET_BIND_SERVICE).
func FreePort53Addrs(n int) ([]netip.Addr, error) {
	var out []netip.Addr
	for a := zoneServerAddrs.Addr().Next(); zoneServerAddrs.Contains(a) && len(out) < n; a = a.Next() {
		ap := netip.AddrPortFrom(a, 53).String()
		pc, err := net.ListenPacket("udp", ap)
		if err != nil {
			continue
		}
		l, err := net.Listen("tcp", ap)
		pc.Close()
		if err != nil {
			continue
		}
		l.Close()
		out = append(out, a)
	}
	if len(out) < n {
		return nil, fmt.Errorf("found %d of %d addresses in %s with port 53 free (binding it needs root)", len(out), n, zoneServerAddrs)
	}
	return out, nil
}

// ZoneServer is an authoritative server for one zone, CoreDNS's file plugin
// in coredns-fed, on port 53 of a loopback address.
type ZoneServer struct {
	// Origin is the zone, fully qualified.
	Origin string
	// NS is the name of the zone's one nameserver, ns.<origin>, and IP its
	// address, where the server listens.
	NS string
	IP netip.Addr
	// Zone is the zone file, for a test's log.
	Zone string

	*CoreDNS
}

// StartZoneServer serves origin on port 53 of addr, with an SOA, the NS
// record of the server itself and its address, and records, and returns once
// it answers.
func StartZoneServer(dir, origin string, addr netip.Addr, records []dns.RR) (*ZoneServer, error) {
	if !addr.IsLoopback() {
		return nil, fmt.Errorf("zone %s: %s is not a loopback address", origin, addr)
	}
	origin = dns.Fqdn(origin)
	ns := "ns." + origin
	if origin == "." {
		ns = "ns."
	}
	var zone strings.Builder
	fmt.Fprintf(&zone, "$ORIGIN %s\n$TTL 3600\n", origin)
	fmt.Fprintf(&zone, "@\tIN\tSOA\t%s hostmaster.%s 1 7200 3600 1209600 300\n", ns, strings.TrimPrefix(origin, "."))
	fmt.Fprintf(&zone, "@\tIN\tNS\t%s\n%s\tIN\tA\t%s\n", ns, ns, addr)
	for _, rr := range records {
		fmt.Fprintln(&zone, rr.String())
	}
	label := strings.TrimSuffix(origin, ".")
	if label == "" {
		label = "root"
	}
	file := filepath.Join(dir, "db."+label)
	if err := os.WriteFile(file, []byte(zone.String()), 0o600); err != nil {
		return nil, err
	}
	corefile := fmt.Sprintf("%s {\n    bind %s\n    file %s\n    errors\n}\n", origin, addr, file)
	s, err := StartCoreDNSWith(dir, "zone-"+label, corefile, 53, CoreDNSOptions{Host: addr.String()})
	if err != nil {
		return nil, err
	}
	zs := &ZoneServer{Origin: origin, NS: ns, IP: addr, Zone: zone.String(), CoreDNS: s}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	soa := func() bool {
		m := new(dns.Msg)
		m.SetQuestion(origin, dns.TypeSOA)
		r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, s.Addr)
		return err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0
	}
	if err := WaitUntil(ctx, 10*time.Second, soa); err != nil {
		s.Stop()
		log, _ := os.ReadFile(s.LogPath)
		return nil, fmt.Errorf("the server of %s on %s did not answer its SOA: %v; it logged:\n%s", origin, s.Addr, err, log)
	}
	return zs, nil
}

// ServeZone is StartZoneServer for a test: it fails the test if the server
// does not start, and stops the server when the test ends, logging the
// zone and the server's log if the test failed.
func ServeZone(t testing.TB, dir, origin string, addr netip.Addr, records []dns.RR) *ZoneServer {
	t.Helper()
	z, err := StartZoneServer(dir, origin, addr, records)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		z.Stop()
		if t.Failed() {
			t.Logf("the zone %s served on %s:\n%s", z.Origin, z.IP, z.Zone)
			LogTail(t, "the server of "+z.Origin, z.LogPath)
		}
	})
	return z
}

// Delegation returns the NS record and glue that delegate the server's zone,
// for its parent's zone file.
func (z *ZoneServer) Delegation() []dns.RR {
	return []dns.RR{
		&dns.NS{Hdr: dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: z.NS},
		&dns.A{Hdr: dns.RR_Header{Name: z.NS, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: z.IP.AsSlice()},
	}
}
