package dnsserver

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"

	"github.com/kfed-dev/kfed/test/geodb"
)

func TestParseGeo(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cities.mmdb")
	if err := geodb.Write(good, geodb.Lab()); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(dir, "corrupt.mmdb")
	if err := os.WriteFile(corrupt, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}

	c := caddy.NewTestController("dns", "fed magicring {\n\tpolicy geo\n\tnearest 2\n\tgeoip "+good+
		"\n\tgeoip_reload 1s\n\tlatency ap-northeast-1 us-east-1 10ms\n\tprobe_source 127.0.0.11\n\tns ns1.example.net\n}")
	c.ServerBlockKeys = []string{testZone}
	f, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if f.Policy.Default != PolicyGeo || f.Policy.Nearest != 2 || f.GeoDB == nil || f.Policy.Locate.DB != f.GeoDB ||
		f.GeoReload != time.Second || f.Policy.Latency.Len() != 1 || f.Watch.ProbeSource != netip.MustParseAddr("127.0.0.11") {
		t.Errorf("parsed %+v, policy %+v", f, f.Policy)
	}
	if f.Selector != Selector(f.Policy) {
		t.Error("the policy selector is not the selector")
	}

	for _, tc := range []struct{ input, want string }{
		{"policy nearest", `not "nearest"`},
		{"policy", "policy takes one argument"},
		{"nearest 0", `nearest "0"`},
		{"geoip " + filepath.Join(dir, "missing.mmdb"), `geoip "` + filepath.Join(dir, "missing.mmdb") + `": stat`},
		{"geoip " + corrupt, "is not a MaxMind database"},
		{"geoip " + good + "\n\tgeoip " + good, "only one database"},
		{"geoip_reload 1ms", `geoip_reload "1ms"`},
		{"latency eu-west-1 us-east-1", "latency takes a client region"},
		{"latency eu-west-1 us-east-1 soon", `latency eu-west-1 us-east-1 "soon"`},
		{"latency atlantis-1 us-east-1 1ms", `region "atlantis-1"`},
		{"probe_source here", `probe_source "here"`},
	} {
		c := caddy.NewTestController("dns", "fed magicring {\n\t"+tc.input+"\n}")
		c.ServerBlockKeys = []string{testZone}
		_, err := parse(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.input, err, tc.want)
		}
	}
}
