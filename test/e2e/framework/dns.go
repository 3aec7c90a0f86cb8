package framework

import (
	"slices"

	"github.com/miekg/dns"
)

// Addresses returns the A and AAAA addresses in the answer section of r,
// sorted, so that answers compare whatever order the server chose.
func Addresses(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}
