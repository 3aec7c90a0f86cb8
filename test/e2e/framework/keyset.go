package framework

import (
	"os"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/dnssec"
)

// WriteKeySet writes a new ECDSA P-256 key set to path, for a coredns-fed
// that signs with keys of its own rather than the federation's.
func WriteKeySet(t testing.TB, path string) {
	t.Helper()
	ks, err := dnssec.NewKeySet(dns.ECDSAP256SHA256, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	data, err := ks.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
