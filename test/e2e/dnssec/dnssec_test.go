//go:build e2e

package dnssec_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/geodb"
)

// hostKeySet reads the key set install made.
func hostKeySet(t *testing.T) *dnssec.KeySet {
	t.Helper()
	c := testLab.Cluster(host)
	secret, err := c.Client().CoreV1().Secrets(v1alpha1.DNSNamespace).Get(t.Context(), dnssec.SecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Labels[v1alpha1.LabelIdentity] != dnssec.IdentityDNSSEC {
		t.Errorf("the key set's Secret has labels %v", secret.Labels)
	}
	ks, err := dnssec.Decode(secret.Data[dnssec.SecretKey])
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.Check(); err != nil {
		t.Fatal(err)
	}
	return ks
}

// zoneKeys returns the set's keys with the zone as owner.
func zoneKeys(t *testing.T, ks *dnssec.KeySet) []*dns.DNSKEY {
	t.Helper()
	var out []*dns.DNSKEY
	for i := range ks.Keys {
		k, _, err := ks.Keys[i].Parse()
		if err != nil {
			t.Fatal(err)
		}
		k.Hdr.Name = domain + "."
		out = append(out, k)
	}
	return out
}

// TestInstallSigns is done-when 1 and 2: install makes one key set in the
// host, never prints it, prints the DS of its KSK, and every server serves
// its DNSKEY RRset and signs with it.
func TestInstallSigns(t *testing.T) {
	in := setUp(t)
	ks := hostKeySet(t)
	keys := zoneKeys(t, ks)

	out := in.result.Stdout + in.result.Stderr
	for _, k := range ks.Keys {
		for line := range strings.Lines(k.Private) {
			if _, v, ok := strings.Cut(line, ": "); ok && len(strings.TrimSpace(v)) > 16 && strings.Contains(out, strings.TrimSpace(v)) {
				t.Errorf("install printed the private key of key %d", k.Tag)
			}
		}
	}
	ksk := ks.Signing(dnssec.RoleKSK)[0]
	pub, _, _ := ksk.Parse()
	want := dnssec.DS(domain, pub, nsTTL)
	if len(in.ds) != 1 || in.ds[0].KeyTag != ksk.Tag || in.ds[0].Algorithm != dns.ECDSAP256SHA256 ||
		in.ds[0].DigestType != dns.SHA256 || !strings.EqualFold(in.ds[0].Digest, want.Digest) {
		t.Errorf("install printed DS %v, want the KSK's %s", in.ds, want)
	}

	for _, server := range in.servers {
		r, err := askDO(server, domain, dns.TypeDNSKEY, nil)
		if err != nil {
			t.Fatal(err)
		}
		tags := dnskeyTags(r)
		wantTags := ks.Tags()
		slices.Sort(wantTags)
		if !slices.Equal(tags, wantTags) {
			t.Errorf("%s serves DNSKEY %v, want the key set's %v", server, tags, wantTags)
		}
		verify(t, server+" DNSKEY", r, keys)
		for _, q := range []struct {
			name  string
			qtype uint16
			rcode int
		}{
			{appFQDN, dns.TypeA, dns.RcodeSuccess},
			{appFQDN, dns.TypeAAAA, dns.RcodeSuccess},
			{"nosuch." + appNS + "." + federation + ".svc." + domain, dns.TypeA, dns.RcodeNameError},
			{domain, dns.TypeSOA, dns.RcodeSuccess},
		} {
			r, err := askDO(server, q.name, q.qtype, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != q.rcode {
				t.Errorf("%s: %s %s is %s, want %s", server, q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[q.rcode])
			}
			verify(t, fmt.Sprintf("%s %s %s", server, q.name, dns.TypeToString[q.qtype]), r, keys)
		}
	}

	// Without --dnssec, install refuses to leave the zone unsigned, and
	// says how to keep or stop signing.
	res, err := kubectl.Run(t.Context(), "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--ns-ttl", fmt.Sprint(nsTTL))
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || !strings.Contains(res.Stderr, "pass --dnssec to keep signing") || !strings.Contains(res.Stderr, "--dnssec=false") {
		t.Errorf("install without --dnssec on a signed zone: %s", res)
	}
	if r, err := askDO(in.servers[0], appFQDN, dns.TypeA, nil); err != nil || !hasRRSIG(r.Answer) {
		t.Errorf("after the refused install, %s answers %v (%v), unsigned", in.servers[0], r, err)
	}
}

// verify checks that every RRset of r's answer and authority sections has
// a signature of one of keys that verifies and is valid now.
func verify(t *testing.T, what string, r *dns.Msg, keys []*dns.DNSKEY) {
	t.Helper()
	if _, err := dnssec.VerifyMsg(r, keys, time.Now()); err != nil {
		t.Errorf("%s: %v, in\n%s", what, err, r)
	}
}

// TestValidatedByUnbound is done-when 4's first half: through the signed
// parent's delegation, unbound validates the app's addresses, a name that
// does not exist and a type the name lacks, each with AD, over UDP and
// TCP.
func TestValidatedByUnbound(t *testing.T) {
	in := setUp(t)
	c := startChain(t, in.records, nil)
	var all []string
	for _, m := range members {
		all = append(all, in.app[m].String())
	}
	slices.Sort(all)
	framework.Eventually(t, 30*time.Second, 250*time.Millisecond, "unbound validates "+appFQDN, func(context.Context) error {
		r, err := c.resolve("udp", appFQDN, dns.TypeA)
		if err != nil {
			return err
		}
		if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
			return fmt.Errorf("rcode %s, AD %v", dns.RcodeToString[r.Rcode], r.AuthenticatedData)
		}
		return nil
	})
	for _, proto := range []string{"udp", "tcp"} {
		for _, q := range []struct {
			name  string
			qtype uint16
			rcode int
			addrs []string
		}{
			{appFQDN, dns.TypeA, dns.RcodeSuccess, all},
			{appFQDN, dns.TypeAAAA, dns.RcodeSuccess, nil},
			{"nosuch." + appNS + "." + federation + ".svc." + domain, dns.TypeA, dns.RcodeNameError, nil},
			{"a.b.c." + domain, dns.TypeTXT, dns.RcodeNameError, nil},
			{domain, dns.TypeMX, dns.RcodeSuccess, nil},
		} {
			r, err := c.resolve(proto, q.name, q.qtype)
			if err != nil {
				t.Fatalf("%s %s %s: %v", proto, q.name, dns.TypeToString[q.qtype], err)
			}
			got := framework.Addresses(r)
			slices.Sort(got)
			if r.Rcode != q.rcode || !r.AuthenticatedData || !slices.Equal(got, q.addrs) {
				t.Errorf("%s %s %s: rcode %s, AD %v, addresses %v; want %s with AD and %v", proto, q.name, dns.TypeToString[q.qtype],
					dns.RcodeToString[r.Rcode], r.AuthenticatedData, got, dns.RcodeToString[q.rcode], q.addrs)
			}
			if proto == "tcp" {
				continue
			}
			// BIND's delv validates the same answer itself, from the
			// parent's key, fetching the chain through unbound.
			want := "; fully validated"
			if len(q.addrs) == 0 {
				want = "; negative response, fully validated"
			}
			out, err := framework.Delv(t.Context(), c.dir, c.resolver.Addr, c.anchor, q.name, q.qtype)
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("delv %s %s: %v, want %q in:\n%s", q.name, dns.TypeToString[q.qtype], err, want, out)
			}
		}
	}

	// The apex's CDS (RFC 7344) is the DS install printed for the parent,
	// validated from the parent's key.
	r, err := c.resolve("udp", domain, dns.TypeCDS)
	if err != nil {
		t.Fatal(err)
	}
	var cds []string
	for _, rr := range r.Answer {
		if rr, ok := rr.(*dns.CDS); ok {
			cds = append(cds, fmt.Sprintf("%d %d %d %s", rr.KeyTag, rr.Algorithm, rr.DigestType, strings.ToUpper(rr.Digest)))
		}
	}
	var ds []string
	for _, rr := range in.ds {
		ds = append(ds, fmt.Sprintf("%d %d %d %s", rr.KeyTag, rr.Algorithm, rr.DigestType, strings.ToUpper(rr.Digest)))
	}
	if !r.AuthenticatedData || len(cds) == 0 || !slices.Equal(cds, ds) {
		t.Errorf("CDS of %s: AD %v, %v; want install's DS %v, validated", domain, r.AuthenticatedData, cds, ds)
	}
	if out, err := framework.Delv(t.Context(), c.dir, c.resolver.Addr, c.anchor, domain, dns.TypeCDNSKEY); err != nil || !strings.Contains(out, "; fully validated") || !strings.Contains(out, "CDNSKEY\t257 3 13") {
		t.Errorf("delv %s CDNSKEY: %v, want the KSK (257 3 13), fully validated, in:\n%s", domain, err, out)
	}
}

// TestDNSCheckSigned is done-when 2: dns check finds every server signing
// with the key set, and says when the signatures expire.
func TestDNSCheckSigned(t *testing.T) {
	in := setUp(t)
	res, err := kubectl.Run(t.Context(), "fed", "dns", "check", "--context", host, "--name", appName+"."+appNS)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 0 || strings.Count(res.Stdout, "signed with DNSKEY") != len(in.servers) || !strings.Contains(res.Stdout, "ok: DNSSEC keys: KSK") {
		t.Errorf("dns check: %s", res)
	}

	// With --parent, the parent's DS is checked against the key set's
	// KSK: the DS install printed, none, and one for another key.
	var others []dns.RR
	for _, rr := range in.records {
		if _, ok := rr.(*dns.DS); !ok {
			others = append(others, rr)
		}
	}
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: domain + ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: nsTTL},
		Flags: dns.ZONE | dns.SEP, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	if _, err := key.Generate(256); err != nil {
		t.Fatal(err)
	}
	wrong := key.ToDS(dns.SHA256)
	for _, tc := range []struct {
		name    string
		records []dns.RR
		exit    int
		want    string
	}{
		{"install's DS", in.records, 0, fmt.Sprintf("ok: the parent's DS points at KSK %d", in.ds[0].KeyTag)},
		{"no DS", others, 1, "the parent holds no DS record for " + domain},
		{"another key's DS", append(slices.Clone(others), wrong), 1, fmt.Sprintf("point at key tag %d, no KSK of the zone's key set", wrong.KeyTag)},
	} {
		c := startChain(t, tc.records, nil)
		res, err := kubectl.Run(t.Context(), "fed", "dns", "check", "--context", host, "--parent", c.parent.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:\n%s", tc.name, res.Stdout)
		if res.ExitCode != tc.exit || !strings.Contains(res.Stdout, tc.want) || !strings.Contains(res.Stdout, "ok: delegates "+domain) {
			t.Errorf("%s: want exit %d, the delegation found, and %q:\n%s", tc.name, tc.exit, tc.want, res)
		}
	}
}

// TestWrongKeyIsBogus is done-when 4: a server that signs with other keys
// than the parent's DS points to makes unbound answer SERVFAIL, and dns
// check names it.
func TestWrongKeyIsBogus(t *testing.T) {
	in := setUp(t)
	addrs, err := framework.FreePort53Addrs(1)
	if err != nil {
		t.Fatal(err)
	}
	wrong := startLocal(t, "wrong-key", addrs[0], "dnssec file "+otherKeySet(t))
	c := startChain(t, delegationTo(addrs[0], in.ds), nil)
	for _, proto := range []string{"udp", "tcp"} {
		r, err := c.resolve(proto, appFQDN, dns.TypeA)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
			t.Errorf("%s: unbound answers %s with %d records through a server of other keys, want SERVFAIL", proto, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	res, err := kubectl.Run(t.Context(), "fed", "dns", "check", "--context", host, "--server", wrong.Addr, "--server", in.servers[0])
	if err != nil {
		t.Fatal(err)
	}
	named := func(server, what string) bool {
		for line := range strings.Lines(res.Stdout) {
			if f := strings.Fields(line); len(f) > 1 && f[0] == server && strings.Contains(line, what) {
				return true
			}
		}
		return false
	}
	if res.ExitCode == 0 || !named(wrong.Addr, "PROBLEM: serves the DNSKEY tags") || named(in.servers[0], "PROBLEM") {
		t.Errorf("dns check names %s and only it: %s", wrong.Addr, res)
	}
}

// TestGeoSigned is done-when 4: a geo answer for a client's subnet, which
// unbound's subnetcache passes on as ECS, validates with AD. The server
// is a coredns-fed on loopback with policy geo and the test's city
// database, signing with the federation's keys read from the host.
func TestGeoSigned(t *testing.T) {
	in := setUp(t)
	addrs, err := framework.FreePort53Addrs(1)
	if err != nil {
		t.Fatal(err)
	}
	mmdb := writeCities(t)
	startLocal(t, "geo", addrs[0], "policy geo\n        geoip "+mmdb+"\n        dnssec")
	c := startChain(t, delegationTo(addrs[0], in.ds), []string{addrs[0].String() + "/32"})
	for subnet, member := range map[string]string{"192.0.2.0": "jpn", "198.51.100.0": "eur", "203.0.113.0": "usa"} {
		ecs := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP(subnet).To4()}
		framework.Eventually(t, 20*time.Second, 250*time.Millisecond, "unbound validates the answer for "+subnet+"/24", func(context.Context) error {
			r, err := c.resolve("udp", appFQDN, dns.TypeA, ecs)
			if err != nil {
				return err
			}
			got := framework.Addresses(r)
			if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || !slices.Equal(got, []string{in.app[member].String()}) {
				return fmt.Errorf("rcode %s, AD %v, addresses %v; want %s's %s with AD", dns.RcodeToString[r.Rcode], r.AuthenticatedData, got, member, in.app[member])
			}
			return nil
		})
	}
}

// writeCities writes the lab's city database: Tokyo, Dublin and Ashburn
// at documentation ranges.
func writeCities(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cities.mmdb")
	if err := geodb.Write(path, geodb.Lab()); err != nil {
		t.Fatal(err)
	}
	return path
}
