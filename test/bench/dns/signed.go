package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/dnsserver"
	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// The signed server is fed with the dnssec option, a key set file of a
// KSK and a ZSK of algorithm 13, asked with the DO bit: every answer
// carries the ZSK's signature, from the signature cache once the first
// query of each name has made it.

// startSigned writes a key set and starts the signed server with it.
func (b *bench) startSigned() (*server, *dnssec.KeySet, error) {
	ks, err := dnssec.NewKeySet(dns.ECDSAP256SHA256, time.Now())
	if err != nil {
		return nil, nil, err
	}
	data, err := ks.Encode()
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(b.dir, "keyset.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, nil, err
	}
	s, err := b.startFedWith(srvSigned, fmt.Sprintf("        dnssec file %s\n", path))
	return s, ks, err
}

// srvSignedBase is fed as measured beside the signed server, the baseline
// of its ratios.
const srvSignedBase = "fed, beside signed"

// measureSigned measures the signed server against fed, in rounds of
// their own once the other servers have stopped: the five servers' figures
// are taken as before, with the same idle servers on the core, and the
// two compared here share the same conditions.
func (b *bench) measureSigned(results map[string]*perf, fed *server, queries string) error {
	signed, keys, err := b.startSigned()
	if err != nil {
		return err
	}
	defer signed.stop()
	if err := signed.waitReady(30 * time.Second); err != nil {
		return err
	}
	if err := b.bulk.checkSigned(signed, keys); err != nil {
		return fmt.Errorf("%s does not answer as it should: %w", signed.name, err)
	}
	pair, err := b.measure([]*server{fed, signed}, queries, "")
	if err != nil {
		return err
	}
	results[srvSigned], results[srvSignedBase] = pair[srvSigned], pair[srvFed]
	results[srvSigned].handler, results[srvSigned].cold, err = b.signedCost(b.bulkMembers(), keys)
	return err
}

// checkSigned asks s for every bulk name with the DO bit, and checks the
// addresses and that the ZSK's signature of them verifies.
func (bk *bulk) checkSigned(s *server, ks *dnssec.KeySet) error {
	zsk, _, err := ks.Signing(dnssec.RoleZSK)[0].Parse()
	if err != nil {
		return err
	}
	zsk.Hdr.Name = domain
	for _, name := range bk.names {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.SetEdns0(1232, true)
		r, err := dns.Exchange(m, s.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if got := framework.Addresses(r); r.Rcode != dns.RcodeSuccess || !slices.Equal(got, bk.want[name]) {
			return fmt.Errorf("%s: %s %v, want %v", name, dns.RcodeToString[r.Rcode], got, bk.want[name])
		}
		var rrset []dns.RR
		var sig *dns.RRSIG
		for _, rr := range r.Answer {
			if s, ok := rr.(*dns.RRSIG); ok {
				sig = s
			} else {
				rrset = append(rrset, rr)
			}
		}
		if sig == nil || sig.Verify(zsk, rrset) != nil {
			return fmt.Errorf("%s: no signature of the ZSK that verifies, in\n%s", name, r)
		}
	}
	return nil
}

// signedCost times fed's ServeDNS with the DO bit in process, on the
// bulk names: warm, every signature in the cache, and cold, a fresh
// signer that asks each name once, every signature made by the query.
func (b *bench) signedCost(members []dnsserver.Member, ks *dnssec.KeySet) (warm testing.BenchmarkResult, cold time.Duration, err error) {
	queries := make([]*dns.Msg, len(b.bulk.names))
	for i, name := range b.bulk.names {
		queries[i] = new(dns.Msg)
		queries[i].SetQuestion(name, dns.TypeA)
		queries[i].SetEdns0(1232, true)
	}
	newFed := func() (*dnsserver.Fed, error) {
		f := dnsserver.New(federation, []string{domain})
		f.SetIndex(dnsserver.BuildIndex(members, 1))
		return f, f.SignWith(ks)
	}
	w := &packWriter{Recorder: dnstest.NewRecorder(&test.ResponseWriter{})}
	ctx := context.Background()
	f, err := newFed()
	if err != nil {
		return warm, 0, err
	}
	begin := time.Now()
	for _, q := range queries {
		_, _ = f.ServeDNS(ctx, w, q)
	}
	cold = time.Since(begin) / time.Duration(len(queries))
	warm = testing.Benchmark(func(tb *testing.B) {
		tb.ReportAllocs()
		for i := 0; tb.Loop(); i++ {
			_, _ = f.ServeDNS(ctx, w, queries[i%len(queries)])
		}
	})
	return warm, cold, nil
}
