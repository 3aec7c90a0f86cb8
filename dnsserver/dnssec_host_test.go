package dnsserver

import (
	"testing"
)

// The host's key set reaches every attached Fed that signs with it; a set
// that cannot sign, or a Secret that goes, leaves the keys read before.
func TestFollowKeys(t *testing.T) {
	host, file := testFed(), testFed()
	host.signer = newSigner()
	file.DNSSEC.File = "keyset.json"
	file.signer = newSigner()
	fileKeys := testKeySet(t)
	if err := file.signer.setKeys(fileKeys); err != nil {
		t.Fatal(err)
	}
	c := &controller{opts: WatchOptions{SecretsNamespace: "kfed-dns"}, feds: []*Fed{host, file}}
	signingZSK := func(f *Fed) uint16 { return f.signer.keys.Load().zsk[0].pub.KeyTag() }

	first := testKeySet(t)
	data, _ := first.Encode()
	c.followKeys(data)
	if !host.signer.ready() || signingZSK(host) != first.Keys[1].Tag {
		t.Fatal("the host's key set did not reach the Fed that signs with it")
	}
	if signingZSK(file) != fileKeys.Keys[1].Tag {
		t.Error("the host's key set replaced a key set file's")
	}

	for name, bad := range map[string][]byte{"not JSON": []byte("{"), "no keys": []byte(`{"keys":[]}`), "gone": nil} {
		c.followKeys(bad)
		if signingZSK(host) != first.Keys[1].Tag {
			t.Errorf("%s: the keys before it were dropped", name)
		}
	}

	second := testKeySet(t)
	data, _ = second.Encode()
	c.followKeys(data)
	if signingZSK(host) != second.Keys[1].Tag {
		t.Error("a new key set did not replace the old one")
	}
	// A Fed attached later starts with the last good set.
	late := testFed()
	late.signer = newSigner()
	late.Policy = nil // no prober here to hand round trips from
	c.attach(late)
	if !late.signer.ready() || signingZSK(late) != second.Keys[1].Tag {
		t.Error("a Fed attached after the keys came has none")
	}
}
