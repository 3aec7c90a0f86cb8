package dnsserver

import (
	"fmt"
	"os"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/dnssec"
)

// The dnssec option signs the zones' answers (dnssec_sign.go) and proves
// their denials (dnssec_deny.go), with the federation's key set:
//
//	dnssec                 from the host's Secret kfed-dns/coredns-fed-dnssec,
//	                       watched, so that a key roll reaches every server
//	dnssec file KEYSET     from a key set file, as kubectl fed writes it
//
// The Secret reaches coredns-fed the way the members' credentials do: it
// reads it from the host, in the one namespace whose Secrets it may read.

// DNSSECOptions say where the key set comes from.
type DNSSECOptions struct {
	// Enabled signs the zones.
	Enabled bool
	// File is the key set file; empty means the host's Secret.
	File string
}

// parseDNSSEC reads the dnssec option, and the key set file it names.
func parseDNSSEC(c *caddy.Controller, f *Fed, args []string) error {
	if f.DNSSEC.Enabled {
		return c.Errf("dnssec: given twice")
	}
	f.DNSSEC.Enabled = true
	f.signer = newSigner()
	switch {
	case len(args) == 0:
		return nil
	case len(args) == 2 && args[0] == "file":
		f.DNSSEC.File = args[1]
		if err := f.loadKeySetFile(); err != nil {
			return c.Errf("dnssec file %q: %v", args[1], err)
		}
		return nil
	}
	return c.Errf("dnssec takes no argument (keys from the host's Secret %s/%s) or `file KEYSET`, got %q", f.Watch.SecretsNamespace, dnssec.SecretName, args)
}

// loadKeySetFile reads the key set file and signs with it.
func (f *Fed) loadKeySetFile() error {
	data, err := os.ReadFile(f.DNSSEC.File)
	if err != nil {
		return err
	}
	ks, err := dnssec.Decode(data)
	if err != nil {
		return err
	}
	return f.signer.setKeys(ks)
}

// signReply proves the denial in m, if it is one, and signs every RRset
// of it. The reply must answer the query state for a name in zone, with
// the outcome answer gave it.
func (f *Fed) signReply(m *dns.Msg, state request.Request, zone string, idx *Index, outcome string) error {
	qname := state.Name()
	switch {
	case outcome == outcomeNXDomain && m.Rcode == dns.RcodeNameError:
		m.Ns = append(m.Ns, f.nxdomainProof(zone, qname, idx, f.NegativeTTL)...)
	case outcome == outcomeNoData && len(m.Answer) == 0:
		types, _ := f.nameTypes(zone, qname, idx)
		m.Ns = append(m.Ns, noDataProof(state.QName(), state.QType(), types, f.NegativeTTL))
	}
	if err := f.signer.signMsg(m, zone); err != nil {
		return fmt.Errorf("signing the answer to %s %s: %w", state.QName(), state.Type(), err)
	}
	return nil
}

// SignWith makes f sign its zones with ks, as the dnssec option does with
// a key set file: for programs that embed the plugin, and benchmarks.
func (f *Fed) SignWith(ks *dnssec.KeySet) error {
	f.DNSSEC.Enabled = true
	if f.signer == nil {
		f.signer = newSigner()
	}
	return f.signer.setKeys(ks)
}
