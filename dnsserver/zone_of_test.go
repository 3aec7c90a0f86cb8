package dnsserver

import "testing"

func TestZoneOf(t *testing.T) {
	f := New("magicring", []string{"example.com.", "sub.example.com.", "example.net."})
	for qname, want := range map[string]string{
		"example.com.":          "example.com.",
		"www.example.com.":      "example.com.",
		"www.sub.example.com.":  "sub.example.com.",
		"sub.example.com.":      "sub.example.com.",
		"xsub.example.com.":     "example.com.",
		"xexample.com.":         "",
		"com.":                  "",
		"WWW.Example.NET.":      "example.net.",
		`a\.example.com.`:       "",
		`a\.b.example.com.`:     "example.com.",
		`www.sub\.example.com.`: "",
		"example.org.":          "",
		".":                     "",
	} {
		if got := f.zoneOf(qname); got != want {
			t.Errorf("zoneOf(%q) = %q, want %q", qname, got, want)
		}
	}
}
