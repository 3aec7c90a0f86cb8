//go:build e2e

package dnssec_test

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// chain is a signed parent zone that delegates the zone, and a validating
// unbound that starts at it, with the parent's key as its trust anchor.
type chain struct {
	parent   *framework.CoreDNS
	resolver *framework.Unbound
	// anchor is the parent's key.
	anchor *dns.DNSKEY
	dir    string
}

// startChain signs a parent zone holding records (the zone's NS, glue and
// DS records), serves it on loopback, and starts unbound on it. ecs lists
// the networks of the zone's servers that unbound sends the client's
// subnet to; none without.
func startChain(t *testing.T, records []dns.RR, ecs []string) *chain {
	t.Helper()
	dir := t.TempDir()
	var zone strings.Builder
	fmt.Fprintf(&zone, "$ORIGIN %s.\n$TTL 3600\n", parentZone)
	fmt.Fprintf(&zone, "@\tIN\tSOA\tns.%s. hostmaster.%s. 1 7200 3600 1209600 5\n", parentZone, parentZone)
	fmt.Fprintf(&zone, "@\tIN\tNS\tns.%s.\nns\tIN\tA\t127.0.0.1\n", parentZone)
	for _, rr := range records {
		h := rr.Header()
		fmt.Fprintf(&zone, "%s\tIN\t%s\t%s\n", h.Name, dns.TypeToString[h.Rrtype], strings.TrimPrefix(rr.String(), h.String()))
	}
	signed, err := framework.SignZone(dir, parentZone, zone.String())
	if err != nil {
		t.Fatal(err)
	}
	port, err := framework.FreeDNSPort()
	if err != nil {
		t.Fatal(err)
	}
	parent, err := framework.StartCoreDNS(dir, "parent", fmt.Sprintf("%s {\n    bind 127.0.0.1\n    file %s\n    errors\n}\n", parentZone, signed.Path), port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		parent.Stop()
		if t.Failed() {
			t.Logf("the parent zone, before signing:\n%s", zone.String())
			framework.LogTail(t, "the parent's CoreDNS", parent.LogPath)
		}
	})
	if port, err = framework.FreeDNSPort(); err != nil {
		t.Fatal(err)
	}
	resolver, err := framework.StartUnboundWith(dir, port, []framework.Stub{
		{Zone: parentZone, Addrs: []string{parent.Addr}},
		// Unbound never leaves loopback, whatever it looks for.
		{Zone: ".", Addrs: []string{parent.Addr}},
	}, framework.UnboundOptions{TrustAnchors: []string{signed.TrustAnchor()}, ClientSubnet: ecs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		resolver.Stop()
		if t.Failed() {
			framework.LogTail(t, "unbound", resolver.LogPath)
		}
	})
	return &chain{parent: parent, resolver: resolver, anchor: signed.Key, dir: dir}
}

// resolve asks the chain's unbound for name and qtype over proto, with
// opts.
func (c *chain) resolve(proto, name string, qtype uint16, opts ...dns.EDNS0) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.SetEdns0(1232, true)
	m.IsEdns0().Option = append(m.IsEdns0().Option, opts...)
	r, _, err := (&dns.Client{Net: proto, Timeout: 5 * time.Second}).Exchange(m, c.resolver.Addr)
	return r, err
}

// delegationTo returns the records that delegate the zone to one server,
// ns1 at addr, with the DS records ds.
func delegationTo(addr netip.Addr, ds []*dns.DS) []dns.RR {
	ns := "ns1." + domain + "."
	rrs := []dns.RR{
		&dns.NS{Hdr: dns.RR_Header{Name: domain + ".", Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: ns},
		&dns.A{Hdr: dns.RR_Header{Name: ns, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 3600}, A: addr.AsSlice()},
	}
	for _, d := range ds {
		rrs = append(rrs, d)
	}
	return rrs
}

// startLocal starts coredns-fed on port 53 of addr, for the zone with one
// nameserver there, reading the federation from the host as a member's
// coredns-fed does, with the fed options given.
func startLocal(t *testing.T, name string, addr netip.Addr, options string) *framework.CoreDNS {
	t.Helper()
	s := framework.FedServer{
		Zone: domain, Federation: federation, Kubeconfig: testLab.Kubeconfig, Context: host,
		Bind: addr.String(), Port: 53,
		Options: []string{fmt.Sprintf("ttl %d", ttl), options},
	}.StartTest(t, t.TempDir(), name)
	framework.Eventually(t, time.Minute, 250*time.Millisecond, "coredns-fed "+name+" answers "+appFQDN, func(context.Context) error {
		r, err := askDO(s.Addr, appFQDN, dns.TypeA, nil)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess || len(framework.Addresses(r)) == 0 {
			return fmt.Errorf("answers %s", r)
		}
		return nil
	})
	return s
}

// otherKeySet writes a key set of its own, not the federation's, into a
// file, and returns the file.
func otherKeySet(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "other-keyset.json")
	framework.WriteKeySet(t, path)
	return path
}
