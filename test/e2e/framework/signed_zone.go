package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SignedZone is a zone file signed by CoreDNS's sign plugin, which
// coredns-fed carries: an NSEC chain, a signature on every authoritative
// RRset, none on a delegation's NS records or glue, the DS records signed.
type SignedZone struct {
	// Path is the signed zone file, for the file plugin.
	Path string
	// Key is the zone's one key, a KSK used as a CSK: the trust anchor a
	// validating resolver starts from.
	Key *dns.DNSKEY
}

// SignZone makes a key for origin, writes zone (a zone file) to dir, and
// has coredns-fed's sign plugin sign it: coredns-fed runs with a Corefile
// of sign alone until the signed file is written, then stops.
func SignZone(dir, origin, zone string) (*SignedZone, error) {
	origin = dns.Fqdn(origin)
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags: dns.ZONE | dns.SEP, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, fmt.Sprintf("K%s+%03d+%05d", origin, key.Algorithm, key.KeyTag()))
	if err := os.WriteFile(base+".key", []byte(key.String()+"\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(base+".private", []byte(key.PrivateKeyString(priv)), 0o600); err != nil {
		return nil, err
	}
	label := strings.TrimSuffix(origin, ".")
	unsigned := filepath.Join(dir, "db."+label)
	if err := os.WriteFile(unsigned, []byte(zone), 0o600); err != nil {
		return nil, err
	}
	signed := filepath.Join(dir, "db."+origin+"signed")
	// A signed file of an earlier run in dir (the demo's) would pass for
	// this one's, and the sign plugin keeps a signed file it finds.
	if err := os.Remove(signed); err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	port, err := FreeDNSPort()
	if err != nil {
		return nil, err
	}
	corefile := fmt.Sprintf("%s {\n    bind 127.0.0.1\n    sign %s {\n        key file %s\n        directory %s\n    }\n}\n", origin, unsigned, base, dir)
	s, err := StartCoreDNS(dir, "sign-"+label, corefile, port)
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The plugin writes a temporary file and renames it: once there, the
	// signed file is whole.
	written := func() bool {
		_, err := os.Stat(signed)
		return err == nil
	}
	if err := WaitUntil(ctx, 30*time.Second, written); err != nil {
		log, _ := os.ReadFile(s.LogPath)
		return nil, fmt.Errorf("the sign plugin did not write %s: %v; it logged:\n%s", signed, err, log)
	}
	return &SignedZone{Path: signed, Key: key}, nil
}

// TrustAnchor is the zone's key as unbound's trust-anchor takes it.
func (z *SignedZone) TrustAnchor() string { return z.Key.String() }
