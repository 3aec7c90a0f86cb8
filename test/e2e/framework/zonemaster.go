package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
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

// Nameserver is a name server given to Zonemaster: a name and its address.
type Nameserver struct {
	Name string
	Addr netip.Addr
}

// ZonemasterOptions say what zone Zonemaster tests, and where.
type ZonemasterOptions struct {
	// Dir receives the profile and the root hints.
	Dir string
	// Zone is the zone tested.
	Zone string
	// Nameservers make the test undelegated: Zonemaster takes them as the
	// zone's delegation instead of asking its parent.
	Nameservers []Nameserver
	// Root is the only root server Zonemaster knows.
	Root Nameserver
	// Timeout bounds the whole run.
	Timeout time.Duration
	// DS are the zone's DS records, as the parent would hold them, for an
	// undelegated test of a signed zone.
	DS []*dns.DS
	// Tests are the modules (or module/test case) to run; empty for all.
	Tests []string
}

// ZonemasterRun is what a run of zonemaster-cli logged.
type ZonemasterRun struct {
	// Messages are every message at DEBUG and above, in the order logged.
	Messages []ZonemasterMessage
	// Stdout is the raw output, one JSON message a line; Stderr the rest.
	Stdout, Stderr string
	// Took is the run's wall-clock time.
	Took time.Duration
}

// ZonemasterMessage is one message of zonemaster-cli's --json-stream
// output.
type ZonemasterMessage struct {
	Timestamp float64        `json:"timestamp"`
	Level     string         `json:"level"`
	Module    string         `json:"module"`
	Testcase  string         `json:"testcase"`
	Tag       string         `json:"tag"`
	Args      map[string]any `json:"args"`
}

// zonemasterSeverity orders Zonemaster's levels.
var zonemasterSeverity = map[string]int{
	"DEBUG3": 0, "DEBUG2": 1, "DEBUG": 2, "INFO": 3, "NOTICE": 4, "WARNING": 5, "ERROR": 6, "CRITICAL": 7,
}

// AtLeast reports whether the message's level is level or higher.
func (m ZonemasterMessage) AtLeast(level string) bool {
	sev, ok := zonemasterSeverity[m.Level]
	if !ok {
		// A level this code does not know is not to be ignored.
		return true
	}
	return sev >= zonemasterSeverity[level]
}

// String renders the message on one line: level, test case, tag and
// arguments, sorted.
func (m ZonemasterMessage) String() string {
	keys := make([]string, 0, len(m.Args))
	for k := range m.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		v, _ := json.Marshal(m.Args[k])
		args = append(args, k+"="+string(v))
	}
	return fmt.Sprintf("%-8s %-14s %s %s", m.Level, m.Testcase, m.Tag, strings.Join(args, " "))
}

// TestCases returns the test cases that ran to their end, sorted.
func (r *ZonemasterRun) TestCases() []string {
	var out []string
	for _, m := range r.Messages {
		// The DNSSEC module also ends a pseudo case "all", its whole run.
		if tc, ok := m.Args["testcase"].(string); ok && m.Tag == "TEST_CASE_END" && tc != "all" {
			out = append(out, tc)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Queried returns the addresses Zonemaster logged queries to (tag
// EXTERNAL_QUERY), sorted.
func (r *ZonemasterRun) Queried() []string {
	var out []string
	for _, m := range r.Messages {
		if ip, ok := m.Args["ip"].(string); ok && m.Tag == "EXTERNAL_QUERY" {
			out = append(out, ip)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// zonemasterProfile changes Zonemaster's default profile to keep it on
// loopback and quick. Every query leaves from 127.0.0.1, which the kernel
// will not route anywhere but loopback (EINVAL, with
// net.ipv4.conf.*.route_localnet off, the default); IPv6 is off. AS
// lookups are Cymru-style DNS queries, which then go, through the loopback
// root, to a name under .invalid (RFC 6761) and find nothing; the RIPE
// style would dial a whois server through the system's resolver instead.
// The servers are on loopback: one second per try is plenty, and a server
// that does not answer costs little. An open zone transfer, a NOTICE by
// default, is a WARNING here: coredns-fed must refuse AXFR (issue 12), and
// a check at WARNING or above holds it to that.
//
// A profile file replaces whole objects of the default (a test_levels
// entry of one message would drop every other level of its module), so
// the changes are made to the default profile, as zonemaster-cli dumps it.
func zonemasterProfile(p map[string]any) error {
	set := func(value any, path ...string) error {
		m := p
		for _, k := range path[:len(path)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return fmt.Errorf("zonemaster-cli's default profile has no %s", strings.Join(path[:len(path)-1], "."))
			}
			m = next
		}
		last := path[len(path)-1]
		if _, ok := m[last]; !ok {
			return fmt.Errorf("zonemaster-cli's default profile has no %s", strings.Join(path, "."))
		}
		m[last] = value
		return nil
	}
	for _, change := range []struct {
		value any
		path  []string
	}{
		{false, []string{"net", "ipv6"}},
		{"127.0.0.1", []string{"resolver", "source"}},
		{1, []string{"resolver", "defaults", "timeout"}},
		{1, []string{"resolver", "defaults", "retrans"}},
		{2, []string{"resolver", "defaults", "retry"}},
		{"cymru", []string{"asn_db", "style"}},
		{map[string]any{"cymru": []string{"asn.invalid"}}, []string{"asn_db", "sources"}},
		{"WARNING", []string{"test_levels", "NAMESERVER", "AXFR_AVAILABLE"}},
	} {
		if err := set(change.value, change.path...); err != nil {
			return err
		}
	}
	return nil
}

// writeZonemasterProfile writes the profile of a run to path.
func writeZonemasterProfile(ctx context.Context, bin, path string) error {
	cmd := exec.CommandContext(ctx, bin, "--dump-profile")
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANGUAGE=")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("zonemaster-cli --dump-profile: %w", err)
	}
	// It may say which profile it loaded before the JSON.
	start := bytes.IndexByte(out, '{')
	if start < 0 {
		return fmt.Errorf("zonemaster-cli --dump-profile printed no profile: %q", out)
	}
	var p map[string]any
	if err := json.Unmarshal(out[start:], &p); err != nil {
		return fmt.Errorf("zonemaster-cli's default profile: %w", err)
	}
	if err := zonemasterProfile(p); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// RunZonemaster runs Debian's zonemaster-cli on opts.Zone as an undelegated
// test of opts.Nameservers, starting from the one root server opts.Root,
// and returns every message it logged. It fails if zonemaster-cli does not
// run to its end. The root must be on loopback; the nameservers may also be
// on the machine's local routes (see LocalAddr), such as the lab's
// load-balancer addresses for real nodes, which Zonemaster reaches from
// 127.0.0.1 over loopback.
func RunZonemaster(ctx context.Context, opts ZonemasterOptions) (*ZonemasterRun, error) {
	bin, err := exec.LookPath("zonemaster-cli")
	if err != nil {
		return nil, fmt.Errorf("zonemaster-cli is not installed (apt-get install zonemaster-cli; `make e2e` does it): %w", err)
	}
	if !opts.Root.Addr.IsLoopback() {
		return nil, fmt.Errorf("root server %s: %s is not a loopback address", opts.Root.Name, opts.Root.Addr)
	}
	if len(opts.Nameservers) == 0 {
		return nil, errors.New("no nameservers to test")
	}
	profile := filepath.Join(opts.Dir, "zonemaster-profile.json")
	if err := writeZonemasterProfile(ctx, bin, profile); err != nil {
		return nil, err
	}
	hints := filepath.Join(opts.Dir, "zonemaster-root.hints")
	root := dns.Fqdn(opts.Root.Name)
	if err := os.WriteFile(hints, fmt.Appendf(nil, ".\t3600000\tIN\tNS\t%s\n%s\t3600000\tIN\tA\t%s\n", root, root, opts.Root.Addr), 0o600); err != nil {
		return nil, err
	}
	args := []string{
		"--json-stream", "--level", "DEBUG", "--no-progress",
		"--no-ipv6", "--profile", profile, "--hints", hints,
	}
	for _, ns := range opts.Nameservers {
		if err := LocalAddr(ns.Addr); err != nil {
			return nil, fmt.Errorf("nameserver %s: %w", ns.Name, err)
		}
		args = append(args, "--ns", strings.TrimSuffix(ns.Name, ".")+"/"+ns.Addr.String())
	}
	for _, ds := range opts.DS {
		args = append(args, "--ds", fmt.Sprintf("%d,%d,%d,%s", ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest))
	}
	for _, t := range opts.Tests {
		args = append(args, "--test", t)
	}
	args = append(args, strings.TrimSuffix(opts.Zone, "."))

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Messages are tags with arguments; a locale this machine lacks would
	// only add warnings.
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANGUAGE=")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err = cmd.Run()
	run := &ZonemasterRun{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(begin)}
	if ctx.Err() != nil {
		return run, fmt.Errorf("zonemaster-cli did not finish within %s", opts.Timeout)
	}
	if err != nil {
		return run, fmt.Errorf("zonemaster-cli %s: %v", strings.Join(args, " "), err)
	}
	for line := range strings.Lines(run.Stdout) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m ZonemasterMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return run, fmt.Errorf("zonemaster-cli printed a line that is not a JSON message: %q: %v", line, err)
		}
		run.Messages = append(run.Messages, m)
	}
	return run, nil
}
