// Package dnssec holds the federation zone's signing keys as kubectl fed
// keeps them in the host and coredns-fed reads them: one key set, in one
// Secret, shared by every nameserver of the federation.
//
// The set has a key-signing key (KSK, flags 257), whose DS the parent
// zone holds and which signs the DNSKEY RRset alone, and zone-signing
// keys (ZSK, flags 256), which sign every other answer. The split lets
// the ZSK roll by pre-publication (RFC 6781 4.1.1.1) without a change at
// the parent; the KSK is the trust anchor's and changes only by hand.
package dnssec

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// The Secret that holds the key set, in the host's kfed-dns namespace, the
// one namespace whose Secrets coredns-fed may read.
const (
	// SecretName is the key set's Secret.
	SecretName = "coredns-fed-dnssec"
	// SecretKey is the Secret's data key that holds the set, as JSON.
	SecretKey = "keyset.json"
	// IdentityDNSSEC is the Secret's v1alpha1.LabelIdentity, by which
	// coredns-fed's watch of kfed-dns finds it.
	IdentityDNSSEC = "dnssec"
)

// SecretLabels are the labels of the key set's Secret.
func SecretLabels(federation string) map[string]string {
	return map[string]string{
		v1alpha1.LabelIdentity:   IdentityDNSSEC,
		v1alpha1.LabelFederation: federation,
		v1alpha1.LabelManagedBy:  v1alpha1.ManagedBy,
	}
}

// Role is what a key signs.
type Role string

const (
	// RoleKSK signs the DNSKEY RRset; the parent's DS points at it.
	RoleKSK Role = "ksk"
	// RoleZSK signs every other RRset of the zone.
	RoleZSK Role = "zsk"
)

// State is where a key is in its life (RFC 7583's states, as few as a
// pre-publication roll needs).
type State string

const (
	// StatePublished: in the DNSKEY RRset, signing nothing yet, so that
	// resolvers hold it before any signature made with it reaches them.
	StatePublished State = "published"
	// StateActive: in the DNSKEY RRset, and signing.
	StateActive State = "active"
	// StateRetired: in the DNSKEY RRset, signing nothing, so that
	// signatures made with it and still cached keep validating.
	StateRetired State = "retired"
)

// Key is one key of the set.
type Key struct {
	Role  Role  `json:"role"`
	State State `json:"state"`
	// Tag is the key tag (RFC 4034 Appendix B), which names the key in
	// RRSIG and DS records, and in kubectl fed's messages.
	Tag     uint16    `json:"tag"`
	Created time.Time `json:"created"`
	// DNSKEY is the public key as a DNSKEY record in presentation format;
	// its owner is the root, and each zone signed puts its own.
	DNSKEY string `json:"dnskey"`
	// Private is the private key in BIND's Private-key-format, which
	// dnssec-keygen writes and reads.
	Private string `json:"private"`
}

// KeySet is the federation's keys, and the roll in progress.
type KeySet struct {
	Keys []Key `json:"keys"`
	// Rollover is the ZSK roll in progress; nil when none is.
	Rollover *Rollover `json:"rollover,omitempty"`
}

// Algorithms kfed generates keys of, by DNSSEC algorithm number, with
// their size in bits for dns.DNSKEY.Generate.
var Algorithms = map[uint8]int{
	dns.ECDSAP256SHA256: 256,
	dns.ECDSAP384SHA384: 384,
	dns.ED25519:         256,
	dns.RSASHA256:       2048,
}

// AlgorithmNames returns the names of the algorithms in Algorithms, for
// messages.
func AlgorithmNames() []string {
	var out []string
	for a := range Algorithms {
		out = append(out, dns.AlgorithmToString[a])
	}
	slices.Sort(out)
	return out
}

// ParseAlgorithm reads an algorithm by number or name, such as 13 or
// ECDSAP256SHA256.
func ParseAlgorithm(s string) (uint8, error) {
	for a := range Algorithms {
		if strings.EqualFold(s, dns.AlgorithmToString[a]) || s == fmt.Sprint(a) {
			return a, nil
		}
	}
	return 0, fmt.Errorf("DNSSEC algorithm %q is not one kfed generates keys of: use one of %s (or its number)", s, strings.Join(AlgorithmNames(), ", "))
}

// NewKey generates a key of role and algorithm whose tag is not in taken:
// two keys of one set must not share a tag, which names them.
func NewKey(role Role, algorithm uint8, state State, now time.Time, taken []uint16) (Key, error) {
	bits, ok := Algorithms[algorithm]
	if !ok {
		return Key{}, fmt.Errorf("DNSSEC algorithm %d is not one kfed generates keys of: use one of %s", algorithm, strings.Join(AlgorithmNames(), ", "))
	}
	flags := uint16(dns.ZONE)
	if role == RoleKSK {
		flags |= dns.SEP
	}
	for range 16 {
		k := &dns.DNSKEY{
			Hdr:   dns.RR_Header{Name: ".", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
			Flags: flags, Protocol: 3, Algorithm: algorithm,
		}
		priv, err := k.Generate(bits)
		if err != nil {
			return Key{}, fmt.Errorf("generating a %s key: %w", dns.AlgorithmToString[algorithm], err)
		}
		if slices.Contains(taken, k.KeyTag()) {
			continue
		}
		return Key{Role: role, State: state, Tag: k.KeyTag(), Created: now.UTC().Truncate(time.Second),
			DNSKEY: k.String(), Private: k.PrivateKeyString(priv)}, nil
	}
	return Key{}, errors.New("generating a key: 16 keys in a row had a tag that the key set already uses")
}

// NewKeySet generates a key set of one KSK and one ZSK of algorithm, both
// active: a zone's first.
func NewKeySet(algorithm uint8, now time.Time) (*KeySet, error) {
	ks := &KeySet{}
	for _, role := range []Role{RoleKSK, RoleZSK} {
		k, err := NewKey(role, algorithm, StateActive, now, ks.Tags())
		if err != nil {
			return nil, err
		}
		ks.Keys = append(ks.Keys, k)
	}
	return ks, nil
}

// Parse reads the key's DNSKEY record and private key, and checks that
// they are one key pair of the tag and role the set says.
func (k *Key) Parse() (*dns.DNSKEY, crypto.Signer, error) {
	rr, err := dns.NewRR(k.DNSKEY)
	if err != nil {
		return nil, nil, fmt.Errorf("key %d: its DNSKEY: %w", k.Tag, err)
	}
	pub, ok := rr.(*dns.DNSKEY)
	if !ok {
		return nil, nil, fmt.Errorf("key %d: its DNSKEY is a %s record", k.Tag, dns.TypeToString[rr.Header().Rrtype])
	}
	if pub.KeyTag() != k.Tag {
		return nil, nil, fmt.Errorf("key %d: its DNSKEY has the tag %d", k.Tag, pub.KeyTag())
	}
	if (pub.Flags&dns.SEP != 0) != (k.Role == RoleKSK) {
		return nil, nil, fmt.Errorf("key %d: a %s whose DNSKEY has flags %d", k.Tag, k.Role, pub.Flags)
	}
	priv, err := pub.ReadPrivateKey(strings.NewReader(k.Private), fmt.Sprintf("key %d", k.Tag))
	if err != nil {
		return nil, nil, fmt.Errorf("key %d: its private key: %w", k.Tag, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok || !matches(pub, signer) {
		return nil, nil, fmt.Errorf("key %d: the private key is not the DNSKEY's", k.Tag)
	}
	return pub, signer, nil
}

// matches reports whether signer is the private half of pub: a
// signature it makes verifies with pub.
func matches(pub *dns.DNSKEY, signer crypto.Signer) bool {
	rrset := []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: pub.Hdr.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"kfed"}}}
	now := uint32(time.Now().Unix())
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Name: pub.Hdr.Name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET},
		Algorithm: pub.Algorithm, SignerName: pub.Hdr.Name, KeyTag: pub.KeyTag(), Inception: now - 60, Expiration: now + 60}
	return sig.Sign(signer, rrset) == nil && sig.Verify(pub, rrset) == nil
}

// Decode reads a key set from its Secret's data.
func Decode(data []byte) (*KeySet, error) {
	var ks KeySet
	if err := json.Unmarshal(data, &ks); err != nil {
		return nil, fmt.Errorf("the DNSSEC key set: %w", err)
	}
	return &ks, nil
}

// Load reads a key set from its Secret's data and checks that it can sign.
func Load(data []byte) (*KeySet, error) {
	ks, err := Decode(data)
	if err != nil {
		return nil, err
	}
	if err := ks.Check(); err != nil {
		return nil, err
	}
	return ks, nil
}

// Encode writes a key set for its Secret's data.
func (ks *KeySet) Encode() ([]byte, error) { return json.Marshal(ks) }

// Tags returns the tags of the set's keys.
func (ks *KeySet) Tags() []uint16 {
	var out []uint16
	for _, k := range ks.Keys {
		out = append(out, k.Tag)
	}
	return out
}

// Find returns the key of tag, or nil.
func (ks *KeySet) Find(tag uint16) *Key {
	for i := range ks.Keys {
		if ks.Keys[i].Tag == tag {
			return &ks.Keys[i]
		}
	}
	return nil
}

// ForParent returns the KSKs whose DS records the parent should hold: the
// active ones, and any published ahead of a KSK roll; not the retired.
func (ks *KeySet) ForParent() []*Key {
	var out []*Key
	for i := range ks.Keys {
		if k := &ks.Keys[i]; k.Role == RoleKSK && k.State != StateRetired {
			out = append(out, k)
		}
	}
	return out
}

// Signing returns the active keys of role.
func (ks *KeySet) Signing(role Role) []*Key {
	var out []*Key
	for i := range ks.Keys {
		if k := &ks.Keys[i]; k.Role == role && k.State == StateActive {
			out = append(out, k)
		}
	}
	return out
}

// Check reports what makes the set unusable: a key it cannot read, two
// keys of one tag, no active KSK or ZSK.
func (ks *KeySet) Check() error {
	seen := map[uint16]bool{}
	for i := range ks.Keys {
		k := &ks.Keys[i]
		if seen[k.Tag] {
			return fmt.Errorf("two keys have the tag %d", k.Tag)
		}
		seen[k.Tag] = true
		switch k.State {
		case StatePublished, StateActive, StateRetired:
		default:
			return fmt.Errorf("key %d: unknown state %q", k.Tag, k.State)
		}
		if _, _, err := k.Parse(); err != nil {
			return err
		}
	}
	for _, role := range []Role{RoleKSK, RoleZSK} {
		if len(ks.Signing(role)) == 0 {
			return fmt.Errorf("no active %s", strings.ToUpper(string(role)))
		}
	}
	return nil
}

// DS returns the DS record of a KSK for zone, SHA-256 (digest type 2,
// the one RFC 8624 requires), with ttl.
func DS(zone string, key *dns.DNSKEY, ttl uint32) *dns.DS {
	k := *key
	k.Hdr.Name, k.Hdr.Ttl = dns.Fqdn(zone), ttl
	ds := k.ToDS(dns.SHA256)
	if ds != nil {
		ds.Hdr.Ttl = ttl
	}
	return ds
}
