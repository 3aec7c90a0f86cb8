package dnsserver

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseName(t *testing.T) {
	const z = "demo.example.com."
	for _, tc := range []struct {
		qname string
		want  Name
	}{
		{z, Name{Kind: KindApex}},
		{"web.default.magicring.svc." + z, Name{Kind: KindService, Service: "web", Namespace: "default"}},
		{"web.default.magicring.svc.us-east-1." + z, Name{Kind: KindService, Level: LevelRegion, Service: "web", Namespace: "default", Region: "us-east-1"}},
		{"web.default.magicring.svc.us-east-1a.us-east-1." + z, Name{Kind: KindService, Level: LevelZone, Service: "web", Namespace: "default", Region: "us-east-1", Zone: "us-east-1a"}},
		{"_http._tcp.web.default.magicring.svc." + z, Name{Kind: KindSRV, Service: "web", Namespace: "default", Port: "http", Proto: "tcp"}},
		{"_http._tcp.web.default.magicring.svc.eu-west-1a.eu-west-1." + z, Name{Kind: KindSRV, Level: LevelZone, Service: "web", Namespace: "default", Port: "http", Proto: "tcp", Region: "eu-west-1", Zone: "eu-west-1a"}},
		{"usa.web.default.magicring.svc." + z, Name{Kind: KindCluster, Cluster: "usa", Service: "web", Namespace: "default"}},
		{"_tcp.web.default.magicring.svc." + z, Name{Kind: KindInterior, Proto: "tcp", Service: "web", Namespace: "default"}},
		{"default.magicring.svc." + z, Name{Kind: KindInterior, Namespace: "default"}},
		{"default.magicring.svc.us-east-1." + z, Name{Kind: KindInterior, Level: LevelRegion, Namespace: "default", Region: "us-east-1"}},
		{"magicring.svc." + z, Name{Kind: KindInterior}},
		{"svc." + z, Name{Kind: KindInterior}},
		{"svc.us-east-1." + z, Name{Kind: KindInterior, Level: LevelRegion, Region: "us-east-1"}},
		{"us-east-1." + z, Name{Kind: KindInterior, Level: LevelRegion, Region: "us-east-1"}},
		{"us-east-1a.us-east-1." + z, Name{Kind: KindInterior, Level: LevelZone, Region: "us-east-1", Zone: "us-east-1a"}},

		// A Service named like the federation, in a namespace named svc:
		// the Service reading wins.
		{"magicring.svc.magicring.svc." + z, Name{Kind: KindService, Service: "magicring", Namespace: "svc"}},
		// A federation named svc.
		{"web.default.svc.svc." + z, Name{}},

		// Nothing.
		{"www.shop." + z, Name{Kind: KindInterior, Level: LevelZone, Region: "shop", Zone: "www"}}, // for the index to judge
		{"a.b.c." + z, Name{}},
		{"web.default.otherfed.svc." + z, Name{}},
		{"web.default.magicring.svc.a.b.c." + z, Name{}},
		{"usa.web.default.magicring.svc.us-east-1." + z, Name{}},
		{"_http.tcp.web.default.magicring.svc." + z, Name{}},
		{"__._tcp.web.default.magicring.svc." + z, Name{Kind: KindSRV, Service: "web", Namespace: "default", Port: "_", Proto: "tcp"}},
		{"_._tcp.web.default.magicring.svc." + z, Name{}},
		{"a.b.c.d.e.f.g.h.i." + z, Name{}},
		{"xdemo.example.com.", Name{}},
		{"example.com.", Name{}},
		{"web..magicring.svc." + z, Name{}},
	} {
		if got := ParseName(tc.qname, z, "magicring"); got != tc.want {
			t.Errorf("ParseName(%q)\n got %+v\nwant %+v", tc.qname, got, tc.want)
		}
	}
}

func TestParseNameFederationSvc(t *testing.T) {
	got := ParseName("web.default.svc.svc.demo.example.com.", "demo.example.com.", "svc")
	want := Name{Kind: KindService, Service: "web", Namespace: "default"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestParseNameRootZone(t *testing.T) {
	got := ParseName("web.default.magicring.svc.", ".", "magicring")
	want := Name{Kind: KindService, Service: "web", Namespace: "default"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := ParseName(".", ".", "magicring"); got.Kind != KindApex {
		t.Errorf("root: got %+v, want the apex", got)
	}
}

func TestParseNameAllocates(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		ParseName("_http._tcp.web.default.magicring.svc.us-east-1a.us-east-1.demo.example.com.", "demo.example.com.", "magicring")
	})
	if allocs != 0 {
		t.Errorf("ParseName allocates %v times, want 0", allocs)
	}
}

// FuzzParseName checks that any name parses without a panic, and that
// what comes back is made of the name's own labels.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{
		"web.default.magicring.svc.demo.example.com.",
		"_http._tcp.web.default.magicring.svc.us-east-1a.us-east-1.demo.example.com.",
		"usa.web.default.magicring.svc.demo.example.com.",
		"svc.demo.example.com.",
		"demo.example.com.",
		"..demo.example.com.",
		"\\..demo.example.com.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, qname string) {
		qname = strings.ToLower(qname)
		n := ParseName(qname, "demo.example.com.", "magicring")
		for _, label := range []string{n.Service, n.Namespace, n.Region, n.Zone, n.Cluster, n.Port, n.Proto} {
			if label != "" && !strings.Contains(qname, label) {
				t.Fatalf("ParseName(%q) made up %q: %+v", qname, label, n)
			}
			if strings.Contains(label, ".") {
				t.Fatalf("ParseName(%q) returned a label with a dot: %+v", qname, n)
			}
		}
		if n.Kind != KindNone && !dns.IsSubDomain("demo.example.com.", qname) && !strings.HasSuffix(qname, "demo.example.com.") {
			t.Fatalf("ParseName(%q) parsed a name outside the zone: %+v", qname, n)
		}
	})
}
