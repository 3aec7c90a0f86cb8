//go:build e2e

package delegation_test

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestInstallKeepsNameservers is issue 18's item 6: install numbers the
// nameservers once. While a member in the middle of the list (eur, ns2)
// cannot be reached, an install leaves it out of the records, gives every
// other server the name and address it had, and keeps eur's number in the
// Federation; the next install, with eur back, gives eur its number again.
func TestInstallKeepsNameservers(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := installedEverywhere(t)
	const down = "eur"
	before := nameserversOf(t, in.records)
	t.Logf("nameservers: %v", before)
	if len(before) != len(members) {
		t.Fatalf("install printed %d nameservers, want one per cluster: %v", len(before), before)
	}
	recorded := recordedNameservers(t)
	if !maps.Equal(recorded, before) {
		t.Errorf("the Federation records the nameservers %v, want what install printed, %v", recorded, before)
	}
	downName := nameOf(before, in.server[down])
	if downName == "" {
		t.Fatalf("no nameserver has %s's address %s: %v", down, in.server[down], before)
	}

	c := testLab.Cluster(down)
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	started := false
	t.Cleanup(func() {
		if !started {
			if err := c.StartAPIServer(context.Background()); err != nil {
				t.Errorf("starting the API server of %s again: %v", down, err)
			}
		}
	})
	res := kubectl.Fail(t, "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--timeout", "30s")
	if want := "  " + down + ": not ready: "; !strings.Contains(res.Stderr, want) {
		t.Errorf("stderr does not name %s and why (%q):\n%s", down, want, res.Stderr)
	}
	records, err := delegationRecords(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(before)
	delete(want, downName)
	if got := nameserversOf(t, records); !maps.Equal(got, want) {
		t.Errorf("with %s down, install printed the nameservers %v, want the others as they were, %v", down, got, want)
	}
	if got := recordedNameservers(t); !maps.Equal(got, before) {
		t.Errorf("with %s down, the Federation records %v, want every number kept, %v", down, got, before)
	}
	// What the servers left serve is the same: the others' names with
	// their addresses, once they have reloaded the Corefile.
	names := slices.Sorted(maps.Keys(want))
	for _, up := range members {
		if up == down {
			continue
		}
		framework.Eventually(t, serversReadyTimeout, 250*time.Millisecond, "the server of "+up+" serves the nameservers "+strings.Join(names, ", "), func(ctx context.Context) error {
			return servesNameservers(dnsAddr(in.server[up]), want)
		})
	}

	if err := c.StartAPIServer(t.Context()); err != nil {
		t.Fatalf("starting the API server of %s again: %v", down, err)
	}
	started = true
	res = kubectl.Succeed(t, "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--timeout", "2m")
	if records, err = delegationRecords(res.Stdout); err != nil {
		t.Fatal(err)
	}
	if got := nameserversOf(t, records); !maps.Equal(got, before) {
		t.Errorf("with %s back, install printed the nameservers %v, want those of the first install, %v", down, got, before)
	}
	if got := recordedNameservers(t); !maps.Equal(got, before) {
		t.Errorf("with %s back, the Federation records %v, want %v", down, got, before)
	}
	if _, err := serversReady(t.Context(), in.app, records); err != nil {
		t.Fatal(err)
	}
}

// nameserversOf returns the glue address of each NS name in records, which
// must have glue for every name.
func nameserversOf(t *testing.T, records []dns.RR) map[string]netip.Addr {
	t.Helper()
	glue := map[string]netip.Addr{}
	for _, rr := range records {
		if a, ok := rr.(*dns.A); ok {
			glue[dns.CanonicalName(a.Hdr.Name)] = netip.AddrFrom4([4]byte(a.A.To4()))
		}
	}
	out := map[string]netip.Addr{}
	for _, rr := range records {
		if ns, ok := rr.(*dns.NS); ok {
			name := dns.CanonicalName(ns.Ns)
			addr, ok := glue[name]
			if !ok {
				t.Errorf("install printed no glue for %s", name)
			}
			out[name] = addr
		}
	}
	return out
}

// nameOf returns the name of addr in nameservers.
func nameOf(nameservers map[string]netip.Addr, addr netip.Addr) string {
	for name, a := range nameservers {
		if a == addr {
			return name
		}
	}
	return ""
}

// recordedNameservers returns the nameservers that the Federation's status
// records, as nameserversOf does.
func recordedNameservers(t *testing.T) map[string]netip.Addr {
	t.Helper()
	s, err := store.New(testLab.Cluster(host).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	fed, err := s.Federations.Get(t.Context(), federation, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]netip.Addr{}
	for _, ns := range fed.Status.Nameservers {
		addr, err := netip.ParseAddr(ns.Address)
		if err != nil {
			t.Errorf("the Federation records %+v: %v", ns, err)
		}
		out[dns.CanonicalName(ns.Name)] = addr
	}
	return out
}

// servesNameservers checks that the server at addr gives the zone's NS
// records as the names of want, and the address of each as in want.
func servesNameservers(addr string, want map[string]netip.Addr) error {
	if err := servesNS(addr, slices.Sorted(maps.Keys(want))); err != nil {
		return err
	}
	for name, glue := range want {
		r, err := ask(addr, "udp", name, dns.TypeA)
		if err != nil {
			return err
		}
		if got := framework.Addresses(r); !slices.Equal(got, []string{glue.String()}) {
			return fmt.Errorf("%s A %v (rcode %s), want %s", name, got, dns.RcodeToString[r.Rcode], glue)
		}
	}
	return nil
}
