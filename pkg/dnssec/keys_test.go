package dnssec

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func newSet(t *testing.T) *KeySet {
	t.Helper()
	ks, err := NewKeySet(dns.ECDSAP256SHA256, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestKeySetRoundTrip(t *testing.T) {
	ks := newSet(t)
	if err := ks.Check(); err != nil {
		t.Fatal(err)
	}
	data, err := ks.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Check(); err != nil {
		t.Fatalf("decoded: %v", err)
	}
	ksk, _, err := back.Signing(RoleKSK)[0].Parse()
	if err != nil {
		t.Fatal(err)
	}
	if ksk.Flags != 257 || ksk.Algorithm != dns.ECDSAP256SHA256 {
		t.Errorf("KSK flags %d algorithm %d, want 257 and 13", ksk.Flags, ksk.Algorithm)
	}
	ds := DS("demo.example.com", ksk, 3600)
	if ds.KeyTag != ksk.KeyTag() || ds.DigestType != dns.SHA256 || ds.Hdr.Name != "demo.example.com." || len(ds.Digest) != 64 {
		t.Errorf("DS %s", ds)
	}
}

// A set the signer could not use is refused, saying why.
func TestKeySetCheck(t *testing.T) {
	for name, c := range map[string]struct {
		change func(ks *KeySet)
		want   string
	}{
		"no ZSK":        {func(ks *KeySet) { ks.Keys = ks.Keys[:1] }, "no active ZSK"},
		"KSK retired":   {func(ks *KeySet) { ks.Keys[0].State = StateRetired }, "no active KSK"},
		"unknown state": {func(ks *KeySet) { ks.Keys[1].State = "gone" }, `unknown state "gone"`},
		"same tag":      {func(ks *KeySet) { ks.Keys = append(ks.Keys, ks.Keys[1]) }, "two keys have the tag"},
		"swapped private halves": {func(ks *KeySet) {
			ks.Keys[0].Private, ks.Keys[1].Private = ks.Keys[1].Private, ks.Keys[0].Private
		}, "the private key is not the DNSKEY's"},
		"role and flags": {func(ks *KeySet) { ks.Keys[0].Role = RoleZSK }, "whose DNSKEY has flags 257"},
		"tag":            {func(ks *KeySet) { ks.Keys[1].Tag++ }, "its DNSKEY has the tag"},
	} {
		t.Run(name, func(t *testing.T) {
			ks := newSet(t)
			c.change(ks)
			if err := ks.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]uint8{"13": 13, "ecdsap256sha256": 13, "ED25519": 15, "RSASHA256": 8} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("%s: %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseAlgorithm("RSASHA1"); err == nil || !strings.Contains(err.Error(), "ECDSAP256SHA256") {
		t.Errorf("RSASHA1: %v, want an error that names the algorithms", err)
	}
}

func TestForParent(t *testing.T) {
	ks := newSet(t)
	now := time.Now()
	for _, state := range []State{StatePublished, StateRetired} {
		k, err := NewKey(RoleKSK, dns.ECDSAP256SHA256, state, now, ks.Tags())
		if err != nil {
			t.Fatal(err)
		}
		ks.Keys = append(ks.Keys, k)
	}
	var got []State
	for _, k := range ks.ForParent() {
		if k.Role != RoleKSK {
			t.Errorf("key %d, a %s, is for the parent", k.Tag, k.Role)
		}
		got = append(got, k.State)
	}
	if want := []State{StateActive, StatePublished}; !slices.Equal(got, want) {
		t.Errorf("the parent's KSKs are %v, want the active and the published, not the retired", got)
	}
}
