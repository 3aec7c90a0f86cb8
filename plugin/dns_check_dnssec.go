package plugin

// dns check's DNSSEC checks: every server serves the key set's DNSKEY
// RRset, and its signatures of the apex, of a denial and of --name verify
// with the key set's keys. The key set is the host's; without it (a zone
// not signed, or a Secret the user may not read) the servers are checked
// against the keys they serve, and against each other.

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/dnssec"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/store"
)

// readKeys reads the zone's key set, if the user may.
func (o *DNSCheckOptions) readKeys(ctx context.Context, s *store.Store) {
	o.keys, o.keysErr = readKeySet(ctx, s)
	if o.keysErr != nil {
		fmt.Fprintf(o.ErrOut, "Warning: %v; signatures are checked against the keys each server serves\n", o.keysErr)
	}
}

// trustedKeys returns the key set's keys with the zone as owner, or nil.
func (o *DNSCheckOptions) trustedKeys() []*dns.DNSKEY {
	if o.keys == nil {
		return nil
	}
	var out []*dns.DNSKEY
	for i := range o.keys.set.Keys {
		if pub, _, err := o.keys.set.Keys[i].Parse(); err == nil {
			pub.Hdr.Name = o.domain
			out = append(out, pub)
		}
	}
	return out
}

// checkDNSSEC checks one server's DNSKEY RRset and signatures.
func (o *DNSCheckOptions) checkDNSSEC(server string, rep *serverReport) {
	r, err := o.exchange(server, o.domain, dns.TypeDNSKEY, true)
	if err != nil {
		rep.problems = append(rep.problems, unanswered(server, "the DNSKEY records of "+o.domain, err))
		return
	}
	var served []*dns.DNSKEY
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			served = append(served, k)
			rep.dnskeys = append(rep.dnskeys, k.KeyTag())
		}
	}
	slices.Sort(rep.dnskeys)
	trusted := o.trustedKeys()
	switch {
	case len(served) == 0 && trusted != nil:
		rep.problems = append(rep.problems, "serves no DNSKEY, and so signs nothing, although the zone is signed: its Corefile lacks dnssec (run kubectl fed dns install --dnssec)")
		return
	case len(served) == 0:
		return
	case trusted == nil:
		trusted = served
	}
	if want := tagsOf(trusted); !slices.Equal(rep.dnskeys, want) {
		rep.problems = append(rep.problems, fmt.Sprintf("serves the DNSKEY tags %s, and the key set has %s: it signs with other keys (a dnssec file in its Corefile?), or has not read the key set yet",
			joinTags(rep.dnskeys), joinTags(want)))
	}
	expires := time.Time{}
	check := func(what string, m *dns.Msg, err error) {
		if err != nil {
			rep.problems = append(rep.problems, unanswered(server, what, err))
			return
		}
		exp, err := dnssec.VerifyMsg(m, trusted, time.Now())
		if err != nil {
			rep.problems = append(rep.problems, fmt.Sprintf("the signatures of %s do not validate: %v", what, err))
			return
		}
		if expires.IsZero() || exp.Before(expires) {
			expires = exp
		}
	}
	check("the DNSKEY records of "+o.domain, r, nil)
	m, err := o.exchange(server, o.domain, dns.TypeSOA, true)
	check("the SOA of "+o.domain, m, err)
	absent := "kfed-check-absent." + o.domain
	m, err = o.exchange(server, absent, dns.TypeA, true)
	check("the denial of "+absent, m, err)
	if o.Name != "" {
		m, err = o.exchange(server, o.Name, dns.TypeA, true)
		check(o.Name, m, err)
	}
	if !expires.IsZero() {
		rep.findings = append(rep.findings, fmt.Sprintf("signed with DNSKEY %s; the signatures checked validate, the first to expire at %s (in %s)",
			joinTags(rep.dnskeys), expires.UTC().Format(time.RFC3339), time.Until(expires).Round(time.Minute)))
	}
}

// dnssecSummary writes what concerns every server: whether they serve the
// same keys, and the roll in progress. It returns the problems.
func (o *DNSCheckOptions) dnssecSummary(w io.Writer, results []fanout.Result[serverReport]) []string {
	var problems []string
	var first *serverReport
	for i := range results {
		rep := &results[i].Value
		if len(rep.dnskeys) == 0 {
			continue
		}
		if first == nil {
			first = rep
			continue
		}
		if o.keys == nil && !slices.Equal(rep.dnskeys, first.dnskeys) {
			p := fmt.Sprintf("the servers serve different keys: %s has DNSKEY %s, %s has %s; one of them signs with keys of its own",
				rep.server, joinTags(rep.dnskeys), first.server, joinTags(first.dnskeys))
			fmt.Fprintf(w, "-\tPROBLEM: %s\n", p)
			problems = append(problems, p)
		}
	}
	if o.keys != nil {
		resume := ""
		if o.keys.set.Rollover != nil {
			resume = " (kubectl fed dns rotate-key resumes it)"
		}
		fmt.Fprintf(w, "-\tok: DNSSEC keys: %s%s\n", o.keys.set.Describe(), resume)
	}
	return problems
}

// checkParentDS compares the parent's DS RRset for the zone with the KSKs
// the key set has for it (dnssec.KeySet.ForParent). A DS RRset that points
// at none of them makes validating resolvers fail every answer of the zone;
// none at all leaves the zone unsigned to them. It returns what it found,
// and the problems.
func (o *DNSCheckOptions) checkParentDS() (string, []string) {
	if o.keys == nil {
		return "", nil
	}
	ksks, err := parentKeys(o.keys.set, o.domain)
	if err != nil {
		return "", []string{err.Error()}
	}
	var wantText []string
	for _, pub := range ksks {
		ds := dnssec.DS(o.domain, pub, 0)
		wantText = append(wantText, fmt.Sprintf("%s IN DS %d %d %d %s", o.domain, ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest))
	}
	records := strings.Join(wantText, "; ")
	r, err := o.exchange(o.Parent, o.domain, dns.TypeDS, true)
	if err != nil {
		return "", []string{unanswered(o.Parent, "the DS records of "+o.domain, err)}
	}
	var matched, stale []uint16
	for _, rr := range r.Answer {
		ds, ok := rr.(*dns.DS)
		if !ok || !strings.EqualFold(ds.Hdr.Name, o.domain) {
			continue
		}
		if slices.ContainsFunc(ksks, func(k *dns.DNSKEY) bool { return dsMatches(ds, k) }) {
			matched = append(matched, ds.KeyTag)
		} else {
			stale = append(stale, ds.KeyTag)
		}
	}
	switch {
	case len(matched) == 0 && len(stale) == 0:
		return "", []string{fmt.Sprintf("the parent holds no DS record for %s (rcode %s), so validating resolvers take the zone for unsigned: add the DS that kubectl fed dns install printed, %s", o.domain, dns.RcodeToString[r.Rcode], records)}
	case len(matched) == 0:
		return "", []string{fmt.Sprintf("the parent's DS record(s) for %s point at key tag %s, no KSK of the zone's key set: validating resolvers answer SERVFAIL for every name of the zone: replace them with the DS that kubectl fed dns install printed, %s", o.domain, joinTags(stale), records)}
	}
	found := fmt.Sprintf("the parent's DS points at KSK %s", joinTags(matched))
	if len(stale) > 0 {
		found += fmt.Sprintf("; its DS for key tag %s matches no key of the set, and can go", joinTags(stale))
	}
	return found, nil
}

// dsMatches reports whether ds is the DS record of key, whose owner is the
// zone, in ds's digest type.
func dsMatches(ds *dns.DS, key *dns.DNSKEY) bool {
	if key.KeyTag() != ds.KeyTag || key.Algorithm != ds.Algorithm {
		return false
	}
	own := key.ToDS(ds.DigestType)
	return own != nil && strings.EqualFold(own.Digest, ds.Digest)
}

func tagsOf(keys []*dns.DNSKEY) []uint16 {
	var out []uint16
	for _, k := range keys {
		out = append(out, k.KeyTag())
	}
	slices.Sort(out)
	return out
}

func joinTags(tags []uint16) string {
	var s []string
	for _, t := range tags {
		s = append(s, fmt.Sprint(t))
	}
	return strings.Join(s, " ")
}
