package dnsserver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/dnssec"
)

// testKeySet is a KSK and a ZSK of algorithm 13.
func testKeySet(t testing.TB) *dnssec.KeySet {
	t.Helper()
	ks, err := dnssec.NewKeySet(dns.ECDSAP256SHA256, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// signedFed is testFed signing with ks.
func signedFed(t *testing.T, ks *dnssec.KeySet) *Fed {
	t.Helper()
	f := testFed()
	f.DNSSEC.Enabled = true
	f.signer = newSigner()
	if err := f.signer.setKeys(ks); err != nil {
		t.Fatal(err)
	}
	return f
}

// askDO asks f for name and qtype with the DO bit.
func askDO(t *testing.T, f *Fed, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, do)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	if _, err := f.ServeDNS(context.Background(), rec, m); err != nil || rec.Msg == nil {
		t.Fatalf("%s %s: no reply (%v)", name, dns.TypeToString[qtype], err)
	}
	return rec.Msg
}

// verifySections checks that every RRset of m's sections has a
// signature of one of keys that verifies now, and returns the tags that
// signed each type.
func verifySections(t *testing.T, m *dns.Msg, zone string, keys []*dns.DNSKEY) map[uint16][]uint16 {
	t.Helper()
	signers := map[uint16][]uint16{}
	for _, section := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		sets := map[string][]dns.RR{}
		var sigs []*dns.RRSIG
		for _, rr := range section {
			switch rr := rr.(type) {
			case *dns.OPT:
			case *dns.RRSIG:
				sigs = append(sigs, rr)
			default:
				k := strings.ToLower(rr.Header().Name) + "/" + dns.TypeToString[rr.Header().Rrtype]
				sets[k] = append(sets[k], rr)
			}
		}
		for k, rrset := range sets {
			ok := false
			for _, sig := range sigs {
				if sig.TypeCovered != rrset[0].Header().Rrtype || !strings.EqualFold(sig.Hdr.Name, rrset[0].Header().Name) {
					continue
				}
				if sig.SignerName != zone || !sig.ValidityPeriod(time.Now()) {
					t.Errorf("%s: signer %s, valid %s to %s", k, sig.SignerName, dns.TimeToString(sig.Inception), dns.TimeToString(sig.Expiration))
				}
				for _, key := range keys {
					if key.KeyTag() == sig.KeyTag {
						if err := sig.Verify(key, rrset); err != nil {
							t.Errorf("%s: signature of key %d: %v", k, sig.KeyTag, err)
						} else {
							ok = true
							signers[sig.TypeCovered] = append(signers[sig.TypeCovered], sig.KeyTag)
						}
					}
				}
			}
			if !ok {
				t.Errorf("%s: no signature verifies, in\n%s", k, m)
			}
		}
	}
	return signers
}

// zoneKeys returns the DNSKEY records of ks with the zone as owner.
func zoneKeys(t *testing.T, ks *dnssec.KeySet, zone string) (all []*dns.DNSKEY, ksk, zsk uint16) {
	t.Helper()
	for i := range ks.Keys {
		k, _, err := ks.Keys[i].Parse()
		if err != nil {
			t.Fatal(err)
		}
		k.Hdr.Name = zone
		all = append(all, k)
		if ks.Keys[i].Role == dnssec.RoleKSK {
			ksk = k.KeyTag()
		} else {
			zsk = k.KeyTag()
		}
	}
	return all, ksk, zsk
}

func TestSignedAnswers(t *testing.T) {
	ks := testKeySet(t)
	f := signedFed(t, ks)
	keys, ksk, zsk := zoneKeys(t, ks, testZone)

	// The DNSKEY RRset, signed by the KSK alone.
	m := askDO(t, f, "DEMO.example.com.", dns.TypeDNSKEY, true)
	if len(m.Answer) != 3 || m.Rcode != dns.RcodeSuccess {
		t.Fatalf("DNSKEY: %s", m)
	}
	if got := verifySections(t, m, testZone, keys); !slices.Equal(got[dns.TypeDNSKEY], []uint16{ksk}) {
		t.Errorf("DNSKEY signed by %v, want the KSK %d alone", got[dns.TypeDNSKEY], ksk)
	}

	// CDS and CDNSKEY (RFC 7344): the KSK, and the DS the parent holds for
	// it, each signed by the KSK alone.
	var kskKey *dns.DNSKEY
	for _, rr := range m.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok && k.KeyTag() == ksk {
			kskKey = k
		}
	}
	wantDS := dnssec.DS(testZone, kskKey, 0)
	m = askDO(t, f, testZone, dns.TypeCDS, true)
	if got := verifySections(t, m, testZone, keys); len(m.Answer) != 2 || !slices.Equal(got[dns.TypeCDS], []uint16{ksk}) {
		t.Errorf("CDS signed by %v, want one CDS signed by the KSK %d alone:\n%s", got[dns.TypeCDS], ksk, m)
	}
	if cds, ok := m.Answer[0].(*dns.CDS); !ok || cds.KeyTag != ksk || cds.DigestType != dns.SHA256 || !strings.EqualFold(cds.Digest, wantDS.Digest) {
		t.Errorf("CDS %v, want the DS of the KSK %v", m.Answer[0], wantDS)
	}
	m = askDO(t, f, testZone, dns.TypeCDNSKEY, true)
	if got := verifySections(t, m, testZone, keys); len(m.Answer) != 2 || !slices.Equal(got[dns.TypeCDNSKEY], []uint16{ksk}) {
		t.Errorf("CDNSKEY signed by %v, want one CDNSKEY signed by the KSK %d alone:\n%s", got[dns.TypeCDNSKEY], ksk, m)
	}
	if c, ok := m.Answer[0].(*dns.CDNSKEY); !ok || c.PublicKey != kskKey.PublicKey || c.Flags != kskKey.Flags {
		t.Errorf("CDNSKEY %v, want the KSK %v", m.Answer[0], kskKey)
	}

	// Answers of every kind, each signed by the ZSK, the owner's case as
	// asked.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"WEB" + svc + testZone, dns.TypeA},
		{"web" + svc + "us-east-1." + testZone, dns.TypeAAAA},
		{"_http._tcp.web" + svc + testZone, dns.TypeSRV},
		{"usa.api" + svc + testZone, dns.TypeA},
		{testZone, dns.TypeSOA},
		{testZone, dns.TypeNS},
		{"ns1." + testZone, dns.TypeA},
	} {
		m := askDO(t, f, q.name, q.qtype, true)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
			t.Errorf("%s %s: %s", q.name, dns.TypeToString[q.qtype], m)
			continue
		}
		for typ, tags := range verifySections(t, m, testZone, keys) {
			if slices.ContainsFunc(tags, func(tag uint16) bool { return tag != zsk }) {
				t.Errorf("%s %s: %s signed by %v, want the ZSK %d", q.name, dns.TypeToString[q.qtype], dns.TypeToString[typ], tags, zsk)
			}
		}
	}

	// Without DO, no signature.
	m = askDO(t, f, "web"+svc+testZone, dns.TypeA, false)
	for _, rr := range append(m.Answer, m.Ns...) {
		if rr.Header().Rrtype == dns.TypeRRSIG {
			t.Errorf("a signature without DO: %s", rr)
		}
	}
}

// The same records, in the rotating order of policy all, are signed once.
func TestSignatureCache(t *testing.T) {
	f := signedFed(t, testKeySet(t))
	var sigs []string
	for range 6 {
		m := askDO(t, f, "web"+svc+testZone, dns.TypeA, true)
		for _, rr := range m.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok {
				sigs = append(sigs, sig.Signature)
			}
		}
	}
	distinct := len(slices.Compact(slices.Clone(sigs)))
	if len(sigs) != 6 || distinct != 1 {
		t.Errorf("six answers of the same records carried %d signatures, %d distinct; want one, reused", len(sigs), distinct)
	}
	if f.signer.signed.Load() != 1 || f.signer.cached.Load() != 5 {
		t.Errorf("signed %d, from the cache %d; want 1 and 5", f.signer.signed.Load(), f.signer.cached.Load())
	}
}

func TestSignedDenials(t *testing.T) {
	ks := testKeySet(t)
	f := signedFed(t, ks)
	keys, _, _ := zoneKeys(t, ks, testZone)

	// NODATA: an NSEC owned by the name, which lists what else it has.
	for _, q := range []struct {
		name      string
		qtype     uint16
		has, hasn []uint16
	}{
		{"web" + svc + testZone, dns.TypeTXT, []uint16{dns.TypeA, dns.TypeAAAA}, []uint16{dns.TypeTXT, dns.TypeCNAME}},
		{testZone, dns.TypeMX, []uint16{dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}, []uint16{dns.TypeMX}},
		{"magicring.svc." + testZone, dns.TypeA, nil, []uint16{dns.TypeA, dns.TypeAAAA}},
	} {
		m := askDO(t, f, q.name, q.qtype, true)
		verifySections(t, m, testZone, keys)
		nsec := nsecs(m)
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 0 || len(nsec) != 1 || !strings.EqualFold(nsec[0].Hdr.Name, q.name) {
			t.Errorf("%s %s: want NODATA with an NSEC of the name, got\n%s", q.name, dns.TypeToString[q.qtype], m)
			continue
		}
		for _, typ := range q.has {
			if !slices.Contains(nsec[0].TypeBitMap, typ) {
				t.Errorf("%s: NSEC %s lacks %s", q.name, nsec[0], dns.TypeToString[typ])
			}
		}
		for _, typ := range q.hasn {
			if slices.Contains(nsec[0].TypeBitMap, typ) {
				t.Errorf("%s: NSEC %s has %s", q.name, nsec[0], dns.TypeToString[typ])
			}
		}
		if !covers(nsec[0].Hdr.Name, nsec[0].NextDomain, "\\000."+q.name) && !strings.EqualFold(nsec[0].NextDomain, "\\000."+q.name) {
			t.Errorf("%s: NSEC %s reaches beyond the name", q.name, nsec[0])
		}
	}

	// NXDOMAIN: one NSEC covers the name, one the closest encloser's
	// wildcard, and neither covers a name that exists.
	for _, q := range []struct{ name, encloser string }{
		{"nosuch" + svc + testZone, "default.magicring.svc." + testZone},
		{"a.b.nosuch.example.com.demo.example.com.", testZone},
		{"web-" + svc + testZone, "default.magicring.svc." + testZone},
		{"*" + svc + testZone, "default.magicring.svc." + testZone},
	} {
		m := askDO(t, f, q.name, dns.TypeA, true)
		verifySections(t, m, testZone, keys)
		nsec := nsecs(m)
		if m.Rcode != dns.RcodeNameError || len(nsec) == 0 {
			t.Errorf("%s: want NXDOMAIN with NSEC records, got\n%s", q.name, m)
			continue
		}
		coversName, coversWildcard := false, false
		for _, n := range nsec {
			coversName = coversName || covers(n.Hdr.Name, n.NextDomain, q.name)
			coversWildcard = coversWildcard || covers(n.Hdr.Name, n.NextDomain, "*."+q.encloser)
			for _, exists := range []string{q.encloser, "web" + svc + testZone, "_http._tcp.web" + svc + testZone, testZone} {
				if covers(n.Hdr.Name, n.NextDomain, exists) {
					t.Errorf("%s: %s covers %s, which exists", q.name, n, exists)
				}
			}
		}
		if !coversName || !coversWildcard {
			t.Errorf("%s: covers the name %v, the wildcard *.%s %v:\n%s", q.name, coversName, q.encloser, coversWildcard, m)
		}
		// A validator takes the closest encloser to be the longest name
		// that the covering NSEC's owner or next name shares with the
		// name (RFC 5155, 8.3; unbound's nsec_closest_encloser).
		for _, n := range nsec {
			if !covers(n.Hdr.Name, n.NextDomain, q.name) {
				continue
			}
			ce := sharedSuffix(n.Hdr.Name, q.name)
			if other := sharedSuffix(n.NextDomain, q.name); dns.CountLabel(other) > dns.CountLabel(ce) {
				ce = other
			}
			if !strings.EqualFold(ce, q.encloser) {
				t.Errorf("%s: from %s a validator finds the closest encloser %s, want %s", q.name, n, ce, q.encloser)
			}
		}
	}
}

// sharedSuffix returns the longest name that a and b both end with.
func sharedSuffix(a, b string) string {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	n := 0
	for n < min(len(la), len(lb)) && strings.EqualFold(la[len(la)-1-n], lb[len(lb)-1-n]) {
		n++
	}
	if n == 0 {
		return "."
	}
	return dns.Fqdn(strings.Join(la[len(la)-n:], "."))
}

func nsecs(m *dns.Msg) []*dns.NSEC {
	var out []*dns.NSEC
	for _, rr := range m.Ns {
		if n, ok := rr.(*dns.NSEC); ok {
			out = append(out, n)
		}
	}
	return out
}

// covers reports whether name is strictly between owner and next in
// canonical order.
func covers(owner, next, name string) bool {
	return canonicalCompare(owner, name) < 0 && canonicalCompare(name, next) < 0
}

// canonicalCompare orders names as RFC 4034, section 6.1, does: label by
// label from the right, each as lower-case octets.
func canonicalCompare(a, b string) int {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i := 1; i <= min(len(la), len(lb)); i++ {
		x := bytes.ToLower([]byte(unescapeLabel(la[len(la)-i])))
		y := bytes.ToLower([]byte(unescapeLabel(lb[len(lb)-i])))
		if c := bytes.Compare(x, y); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// dnssec file reads a key set file at setup, and signs with it.
func TestParseDNSSECFile(t *testing.T) {
	ks := testKeySet(t)
	data, _ := ks.Encode()
	path := filepath.Join(t.TempDir(), "keyset.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := parse(caddy.NewTestController("dns", "fed magicring {\n\tns ns1.example.net.\n\tdnssec file "+path+"\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if !f.DNSSEC.Enabled || f.DNSSEC.File != path || f.signer == nil || !f.signer.ready() {
		t.Errorf("dnssec file: %+v, signer ready %v", f.DNSSEC, f.signer != nil && f.signer.ready())
	}
	f, err = parse(caddy.NewTestController("dns", "fed magicring {\n\tns ns1.example.net.\n\tdnssec\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if !f.DNSSEC.Enabled || f.DNSSEC.File != "" || f.signer == nil || f.signer.ready() || f.Ready() {
		t.Errorf("dnssec from the host: %+v; before the keys come, the plugin must not be ready", f.DNSSEC)
	}
}
