package validation

import (
	"strings"
	"testing"
)

func TestDomain(t *testing.T) {
	for _, tc := range []struct {
		domain string
		want   string // a substring of the joined messages; "" means valid
	}{
		{"demo.example.com", ""},
		{"demo.example.com.", ""},
		{"a.b", ""},
		{"fed-1.example.co.uk", ""},
		{"", "must not be empty"},
		{".", "must not be empty"},
		{"com", "at least two labels"},
		{"Demo.Example.com", "must be lowercase"},
		{"demo..example.com", "empty labels"},
		{".example.com", "empty labels"},
		{"*.example.com", "wildcard"},
		{"demo_x.example.com", `label "demo_x"`},
		{"-demo.example.com", `label "-demo"`},
		{"10.0.0.1", "not an IP address"},
		{"example.123", "all-numeric"},
		{strings.Repeat("a", 64) + ".com", "no more than 63"},
		{strings.Repeat("abcdefghi.", 26) + "com", "no more than 253"},
	} {
		errs := strings.Join(Domain(tc.domain), "; ")
		if tc.want == "" && errs != "" {
			t.Errorf("Domain(%q) = %q, want valid", tc.domain, errs)
		}
		if tc.want != "" && !strings.Contains(errs, tc.want) {
			t.Errorf("Domain(%q) = %q, want a message containing %q", tc.domain, errs, tc.want)
		}
	}
}

func TestFederationName(t *testing.T) {
	for _, name := range []string{"magicring", "a", "fed-1", strings.Repeat("a", 63)} {
		if errs := FederationName(name); len(errs) > 0 {
			t.Errorf("FederationName(%q) = %q, want valid", name, errs)
		}
	}
	for _, name := range []string{"", "Magic", "magic_ring", "magic.ring", "-a", "a-", strings.Repeat("a", 64)} {
		if errs := FederationName(name); len(errs) == 0 {
			t.Errorf("FederationName(%q) is valid, want an error", name)
		}
	}
}
