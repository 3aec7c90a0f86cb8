package dnssec

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// VerifyMsg checks that every RRset of m's answer and authority sections
// has a signature that verifies with one of keys and is valid at now, and
// returns when the first of those signatures expires; else what fails.
func VerifyMsg(m *dns.Msg, keys []*dns.DNSKEY, now time.Time) (time.Time, error) {
	var first time.Time
	for _, section := range [][]dns.RR{m.Answer, m.Ns} {
		sets := map[string][]dns.RR{}
		var order []string
		var sigs []*dns.RRSIG
		for _, rr := range section {
			if sig, ok := rr.(*dns.RRSIG); ok {
				sigs = append(sigs, sig)
				continue
			}
			k := strings.ToLower(rr.Header().Name) + " " + dns.TypeToString[rr.Header().Rrtype]
			if sets[k] == nil {
				order = append(order, k)
			}
			sets[k] = append(sets[k], rr)
		}
		for _, k := range order {
			exp, err := verifyRRset(sets[k], sigs, keys, now)
			if err != nil {
				return time.Time{}, fmt.Errorf("%s: %w", k, err)
			}
			if first.IsZero() || exp.Before(first) {
				first = exp
			}
		}
	}
	if first.IsZero() {
		return first, fmt.Errorf("the answer (%s) has no records to verify", dns.RcodeToString[m.Rcode])
	}
	return first, nil
}

// verifyRRset finds a signature of rrset among sigs that verifies with a
// key of keys and is valid at now, and returns its expiry; else why none
// does.
func verifyRRset(rrset []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, now time.Time) (time.Time, error) {
	var why []string
	for _, sig := range sigs {
		if sig.TypeCovered != rrset[0].Header().Rrtype || !strings.EqualFold(sig.Hdr.Name, rrset[0].Header().Name) {
			continue
		}
		i := slices.IndexFunc(keys, func(k *dns.DNSKEY) bool { return k.KeyTag() == sig.KeyTag && k.Algorithm == sig.Algorithm })
		switch {
		case i < 0:
			why = append(why, fmt.Sprintf("signed by key %d, which is not in the key set", sig.KeyTag))
		case sig.Verify(keys[i], rrset) != nil:
			why = append(why, fmt.Sprintf("the signature of key %d does not verify", sig.KeyTag))
		case !sig.ValidityPeriod(now):
			why = append(why, fmt.Sprintf("the signature of key %d is valid from %s to %s only", sig.KeyTag, dns.TimeToString(sig.Inception), dns.TimeToString(sig.Expiration)))
		default:
			return time.Unix(int64(sig.Expiration), 0), nil
		}
	}
	if len(why) == 0 {
		return time.Time{}, fmt.Errorf("no signature")
	}
	return time.Time{}, fmt.Errorf("%s", strings.Join(why, "; "))
}
