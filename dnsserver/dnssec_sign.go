package dnsserver

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin/pkg/cache"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/dnssec"
)

// Online signing: the zone's answers change with health, region and the
// client's subnet, so no signed copy of the zone could be made ahead of
// time. Each RRset of a reply to a query with the DO bit is signed as the
// reply is built, and the signature kept in a cache keyed by what it
// signs (owner, type, TTL, records in canonical order, key), so that the
// handful of answers a name rotates through are signed once each.

// Signature lifetimes. A signature is made valid from an hour ago, for
// clocks of resolvers running behind, to a week ahead; the cache makes a
// new one once half the week is gone, so that no answer carries a
// signature with less than three and a half days to live.
const (
	sigBackdate = time.Hour
	sigValidity = 7 * 24 * time.Hour
	sigRefresh  = sigValidity / 2
	// sigCacheSize bounds the cached signatures: ten times what 2,500
	// Services with three answers each make.
	sigCacheSize = 100_000
)

// signer signs a zone's replies with the federation's key set.
type signer struct {
	keys  atomic.Pointer[signingKeys]
	cache *cache.Cache[*sigEntry]
	now   func() time.Time
	// signed and cached count the signatures made and those taken from
	// the cache, for the metrics.
	signed, cached atomic.Uint64
}

// signingKeys is a key set ready to sign with.
type signingKeys struct {
	// dnskeys are every key of the set, the DNSKEY RRset, owner ".".
	dnskeys []*dns.DNSKEY
	// ksk signs the DNSKEY, CDS and CDNSKEY RRsets, zsk every other.
	ksk, zsk []keyPair
	// parent are the KSKs of the CDS and CDNSKEY RRsets (see
	// dnssec.KeySet.ForParent).
	parent []*dns.DNSKEY
}

type keyPair struct {
	pub  *dns.DNSKEY
	priv crypto.Signer
}

// sigEntry is a cached signature, with what it signed, so that two
// RRsets whose digests collide are never given each other's signature.
type sigEntry struct {
	signed []byte
	sig    dns.RRSIG
}

func newSigner() *signer {
	return &signer{cache: cache.New[*sigEntry](sigCacheSize), now: time.Now}
}

// setKeys makes ks the keys that sign from now on; a set that cannot sign
// is refused and the keys before it kept.
func (s *signer) setKeys(ks *dnssec.KeySet) error {
	if err := ks.Check(); err != nil {
		return err
	}
	k := &signingKeys{}
	for i := range ks.Keys {
		key := &ks.Keys[i]
		pub, priv, err := key.Parse()
		if err != nil {
			return err
		}
		k.dnskeys = append(k.dnskeys, pub)
		if key.State != dnssec.StateActive {
			continue
		}
		if key.Role == dnssec.RoleKSK {
			k.ksk = append(k.ksk, keyPair{pub, priv})
		} else {
			k.zsk = append(k.zsk, keyPair{pub, priv})
		}
	}
	for _, key := range ks.ForParent() {
		pub, _, err := key.Parse()
		if err != nil {
			return err
		}
		k.parent = append(k.parent, pub)
	}
	s.keys.Store(k)
	dnssecKeys.Reset()
	for _, key := range ks.Keys {
		dnssecKeys.WithLabelValues(string(key.Role), strconv.Itoa(int(key.Tag)), string(key.State)).Set(1)
	}
	return nil
}

// ready reports whether the signer has keys.
func (s *signer) ready() bool { return s.keys.Load() != nil }

// keyRecords returns the apex's RRset of qtype, owner's name: DNSKEY,
// every key of the set; or CDNSKEY and CDS (RFC 7344), the KSKs the
// parent's DS should point at and their DS records (SHA-256 of zone).
func (s *signer) keyRecords(qtype uint16, zone, owner string, ttl uint32) []dns.RR {
	k := s.keys.Load()
	if k == nil {
		return nil
	}
	var out []dns.RR
	if qtype == dns.TypeDNSKEY {
		for _, key := range k.dnskeys {
			c := *key
			c.Hdr.Name, c.Hdr.Ttl = owner, ttl
			out = append(out, &c)
		}
		return out
	}
	for _, key := range k.parent {
		var rr dns.RR
		if qtype == dns.TypeCDNSKEY {
			rr = &dns.CDNSKEY{DNSKEY: *key}
		} else if ds := dnssec.DS(zone, key, ttl); ds != nil {
			rr = ds.ToCDS()
		} else {
			continue
		}
		h := rr.Header()
		h.Name, h.Rrtype, h.Ttl = owner, qtype, ttl
		out = append(out, rr)
	}
	return out
}

// signMsg adds to every RRset of m's sections the signatures of zone's
// keys: the KSKs' for the DNSKEY, CDS and CDNSKEY RRsets, the ZSKs' for
// any other. Each RRset's signatures follow its last record.
func (s *signer) signMsg(m *dns.Msg, zone string) error {
	k := s.keys.Load()
	if k == nil {
		return fmt.Errorf("no DNSSEC keys yet")
	}
	var err error
	for _, section := range []*[]dns.RR{&m.Answer, &m.Ns, &m.Extra} {
		if *section, err = s.signSection(*section, zone, k); err != nil {
			return err
		}
	}
	return nil
}

// signSection returns rrs with each RRset's signatures after it; the
// OPT record and any signature already there are left as they are.
func (s *signer) signSection(rrs []dns.RR, zone string, k *signingKeys) ([]dns.RR, error) {
	if len(rrs) == 0 {
		return rrs, nil
	}
	out := make([]dns.RR, 0, 2*len(rrs))
	var onStack [32]bool
	done := onStack[:0]
	if len(rrs) > len(onStack) {
		done = make([]bool, len(rrs))
	}
	done = done[:len(rrs)]
	for i, rr := range rrs {
		if done[i] {
			continue
		}
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT || h.Rrtype == dns.TypeRRSIG {
			out = append(out, rr)
			continue
		}
		// The RRset: this record and the later ones of its name and type.
		start := len(out)
		for j := i; j < len(rrs); j++ {
			o := rrs[j].Header()
			if !done[j] && o.Rrtype == h.Rrtype && strings.EqualFold(o.Name, h.Name) {
				done[j] = true
				out = append(out, rrs[j])
			}
		}
		keys := k.zsk
		switch h.Rrtype {
		case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
			// RFC 7344, section 4.1: the parent checks CDS and CDNSKEY
			// with a key its DS points at.
			keys = k.ksk
		}
		for _, key := range keys {
			sig, err := s.rrsig(out[start:], zone, key)
			if err != nil {
				return nil, err
			}
			out = append(out, sig)
		}
	}
	return out, nil
}

// rrsig returns key's signature of rrset, from the cache when it has one
// that is not due for renewal.
func (s *signer) rrsig(rrset []dns.RR, zone string, key keyPair) (*dns.RRSIG, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	signed := sc.canonical(rrset, key.pub.KeyTag())
	digest := cache.Hash(signed)
	now := s.now()
	if e, ok := s.cache.Get(digest); ok && bytes.Equal(e.signed, signed) &&
		now.Before(time.Unix(int64(e.sig.Inception), 0).Add(sigBackdate+sigRefresh)) {
		s.cached.Add(1)
		dnssecSignatures.WithLabelValues("cached").Inc()
		return e.copyFor(rrset[0].Header()), nil
	}
	h := rrset[0].Header()
	e := &sigEntry{signed: bytes.Clone(signed), sig: dns.RRSIG{
		Hdr:        dns.RR_Header{Name: strings.ToLower(h.Name), Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: h.Ttl},
		Algorithm:  key.pub.Algorithm,
		KeyTag:     key.pub.KeyTag(),
		SignerName: strings.ToLower(zone),
		Inception:  uint32(now.Add(-sigBackdate).Unix()),
		Expiration: uint32(now.Add(sigValidity).Unix()),
	}}
	if err := e.sig.Sign(key.priv, rrset); err != nil {
		return nil, fmt.Errorf("signing %s %s with key %d: %w", h.Name, dns.TypeToString[h.Rrtype], key.pub.KeyTag(), err)
	}
	s.cache.Add(digest, e)
	s.signed.Add(1)
	dnssecSignatures.WithLabelValues("made").Inc()
	return e.copyFor(h), nil
}

// copyFor returns the cached signature for an RRset whose owner is
// written as h's, in the case the question was asked in.
func (e *sigEntry) copyFor(h *dns.RR_Header) *dns.RRSIG {
	c := e.sig
	c.Hdr.Name = h.Name
	return &c
}

// scratch is the room a signature's cache key is written in, reused from
// query to query.
type scratch struct {
	key, pack []byte
	// data are the records' packed data, as offsets into rdata.
	rdata []byte
	data  [][2]int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{pack: make([]byte, 512)} }}

// canonical returns what identifies the signature of rrset by key tag:
// the tag, the owner in lower case, the type, class and TTL, and the
// records' data in canonical order (RFC 4034, section 6.3), so that the
// same records in another order, or with the owner in another case, find
// the same signature. Names in the data keep their case: the same records
// written in another case only miss the cache, where lowering every byte
// would make two addresses (65.0.0.1 and 97.0.0.1) one. The result lives
// in sc until its next use.
func (sc *scratch) canonical(rrset []dns.RR, tag uint16) []byte {
	h := rrset[0].Header()
	b := binary.BigEndian.AppendUint16(sc.key[:0], tag)
	for i := 0; i < len(h.Name); i++ {
		c := h.Name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, h.Rrtype)
	b = binary.BigEndian.AppendUint16(b, h.Class)
	b = binary.BigEndian.AppendUint32(b, h.Ttl)
	sc.rdata, sc.data = sc.rdata[:0], sc.data[:0]
	for _, rr := range rrset {
		start := len(sc.rdata)
		sc.rdata = append(sc.rdata, sc.packData(rr)...)
		sc.data = append(sc.data, [2]int{start, len(sc.rdata)})
	}
	slices.SortFunc(sc.data, func(x, y [2]int) int { return bytes.Compare(sc.rdata[x[0]:x[1]], sc.rdata[y[0]:y[1]]) })
	for _, d := range sc.data {
		b = binary.BigEndian.AppendUint16(b, uint16(d[1]-d[0]))
		b = append(b, sc.rdata[d[0]:d[1]]...)
	}
	sc.key = b
	return b
}

// packData returns rr's data as packed, in sc.pack, which grows when rr
// does not fit.
func (sc *scratch) packData(rr dns.RR) []byte {
	for {
		off, err := dns.PackRR(rr, sc.pack, 0, nil, false)
		if err != nil {
			if len(sc.pack) >= dns.MaxMsgSize {
				return []byte(rr.String())
			}
			sc.pack = make([]byte, 2*len(sc.pack))
			continue
		}
		// Past the owner name and the type, class, TTL and length.
		i := 0
		for sc.pack[i] != 0 {
			i += int(sc.pack[i]) + 1
		}
		return sc.pack[i+1+10 : off]
	}
}
