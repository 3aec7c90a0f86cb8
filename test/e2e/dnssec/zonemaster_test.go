//go:build e2e

package dnssec_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// zonemasterEnvironment names, by tag, the Zonemaster messages above
// NOTICE that the lab's environment explains, not coredns-fed's signing.
// Each reason must hold for the lab whatever coredns-fed answers.
var zonemasterEnvironment = map[string]string{}

// TestZonemasterDNSSEC is done-when 6: Zonemaster's DNSSEC test cases, run
// on the signed zone as an undelegated test of the nameservers install
// printed, with its DS records, report nothing above NOTICE that the lab
// does not explain.
func TestZonemasterDNSSEC(t *testing.T) {
	in := setUp(t)
	dir := t.TempDir()
	addrs, err := framework.FreePort53Addrs(2)
	if err != nil {
		t.Fatal(err)
	}
	parent := framework.ServeZone(t, dir, parentZone, addrs[0], in.records)
	root := framework.ServeZone(t, dir, ".", addrs[1], parent.Delegation())
	var nameservers []framework.Nameserver
	for _, rr := range in.records {
		if a, ok := rr.(*dns.A); ok {
			addr, _ := netip.AddrFromSlice(a.A.To4())
			nameservers = append(nameservers, framework.Nameserver{Name: a.Hdr.Name, Addr: addr})
		}
	}
	run, err := framework.RunZonemaster(t.Context(), framework.ZonemasterOptions{
		Dir:         dir,
		Zone:        domain,
		Nameservers: nameservers,
		Root:        framework.Nameserver{Name: root.NS, Addr: root.IP},
		Timeout:     3 * time.Minute,
		DS:          in.ds,
		Tests:       []string{"DNSSEC"},
	})
	t.Cleanup(func() {
		if t.Failed() && run != nil {
			t.Logf("zonemaster-cli's whole output (JSON, one message a line):\n%s\nand its stderr:\n%s", run.Stdout, run.Stderr)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := run.TestCases()
	t.Logf("Zonemaster ran %d test cases in %s: %v", len(cases), run.Took.Round(10*time.Millisecond), cases)
	// An unsigned zone stops the module after dnssec07; a signed one runs
	// on to its last cases.
	for _, tc := range []string{"dnssec01", "dnssec02", "dnssec03", "dnssec05", "dnssec08", "dnssec10", "dnssec14"} {
		if !slices.Contains(cases, tc) {
			t.Errorf("Zonemaster ran no test case %s: %v", tc, cases)
		}
	}
	var explained, unexplained, notices []string
	info := map[string]bool{}
	for _, m := range run.Messages {
		if m.Level == "INFO" {
			info[m.Tag] = true
		}
		if m.Level == "NOTICE" {
			notices = append(notices, m.String())
		}
		if !m.AtLeast("WARNING") {
			continue
		}
		if reason, ok := zonemasterEnvironment[m.Tag]; ok {
			explained = append(explained, fmt.Sprintf("%s\n    the lab: %s", m, reason))
			continue
		}
		unexplained = append(unexplained, m.String())
	}
	t.Logf("%d message(s) at NOTICE:\n%s", len(notices), strings.Join(notices, "\n"))
	// What the module found, in its own words.
	var tags []string
	for tag := range info {
		tags = append(tags, tag)
	}
	slices.Sort(tags)
	t.Logf("INFO tags: %s", strings.Join(tags, " "))
	// A zone Zonemaster found signed: its algorithm, its NSEC denials and
	// its signatures' lifetimes were looked at (zonemaster-cli 5.0.2), and
	// it found the CDS and CDNSKEY RRsets, which dnssec16 to dnssec18
	// then check against the DNSKEY and DS RRsets.
	for _, tag := range []string{"ALGORITHM_OK", "DS10_HAS_NSEC", "RRSIG_EXPIRATION", "DS15_HAS_CDS_AND_CDNSKEY"} {
		if !info[tag] {
			t.Errorf("Zonemaster logged no %s: did it find the zone signed?", tag)
		}
	}
	if len(explained) > 0 {
		t.Logf("%d message(s) above NOTICE that the lab explains:\n%s", len(explained), strings.Join(explained, "\n"))
	}
	if len(unexplained) > 0 {
		t.Errorf("Zonemaster reported %d problem(s) above NOTICE:\n%s", len(unexplained), strings.Join(unexplained, "\n"))
	}
}
