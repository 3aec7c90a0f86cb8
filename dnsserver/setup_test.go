package dnsserver

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	c := caddy.NewTestController("dns", `fed magicring {
		kubeconfig /etc/kfed/host.kubeconfig usa
		namespace kfed-fed
		secrets_namespace kfed-fed-dns
		ttl 10
		negative_ttl 30
		ns ns1.demo.example.com. 192.0.2.53 2001:db8::53
		ns ns2.example.net
		ns_ttl 86400
		rname dns.admin@example.org
		max_addresses 4
		unhealthy nodata
		probe_interval 2s
		probe_timeout 500ms
		unhealthy_threshold 3
		healthy_threshold 1
		probe_concurrency 8
		probe_rate 300
		startup_timeout 20s
		token_refresh_check 30s
		external_ips
		fallthrough
	}`)
	c.ServerBlockKeys = []string{"Demo.Example.com:1053"}
	f, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if f.Federation != "magicring" || len(f.Zones) != 1 || f.Zones[0] != "demo.example.com." {
		t.Errorf("federation %q zones %v", f.Federation, f.Zones)
	}
	if f.Watch.Kubeconfig != "/etc/kfed/host.kubeconfig" || f.Watch.Context != "usa" ||
		f.Watch.Namespace != "kfed-fed" || f.Watch.SecretsNamespace != "kfed-fed-dns" {
		t.Errorf("watch %+v", f.Watch)
	}
	if f.TTL != 10 || f.NegativeTTL != 30 || f.MaxAddresses != 4 || f.FailOpen {
		t.Errorf("ttl %d negative_ttl %d max_addresses %d fail open %v", f.TTL, f.NegativeTTL, f.MaxAddresses, f.FailOpen)
	}
	if len(f.Nameservers) != 2 || f.Nameservers[0].Name != "ns1.demo.example.com." ||
		len(f.Nameservers[0].Addrs) != 2 || f.Nameservers[0].Addrs[1] != netip.MustParseAddr("2001:db8::53") ||
		f.Nameservers[1].Name != "ns2.example.net." || f.NSTTL != 86400 {
		t.Errorf("nameservers %+v, ns_ttl %d", f.Nameservers, f.NSTTL)
	}
	if f.Rname != `dns\.admin.example.org.` {
		t.Errorf("rname %q, want the mailbox's local part as one label", f.Rname)
	}
	w := f.Watch
	if w.ProbeInterval != 2*time.Second || w.ProbeTimeout != 500*time.Millisecond || w.UnhealthyThreshold != 3 ||
		w.HealthyThreshold != 1 || w.ProbeConcurrency != 8 || w.ProbeRate != 300 || w.StartupTimeout != 20*time.Second || !w.ExternalIPs ||
		w.TokenRefreshCheck != 30*time.Second {
		t.Errorf("probes %+v", w)
	}
	if !f.Fall.Through("x.demo.example.com.") {
		t.Error("fallthrough not set")
	}
}

func TestParseDefaults(t *testing.T) {
	c := caddy.NewTestController("dns", "fed magicring {\n\tns ns1.example.net\n}")
	c.ServerBlockKeys = []string{"demo.example.com."}
	f, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if f.TTL != defaultTTL || f.NegativeTTL != defaultNegativeTTL || f.NSTTL != defaultNSTTL || f.Rname != "" ||
		f.MaxAddresses != defaultMaxAddresses || !f.FailOpen {
		t.Errorf("defaults: %+v", f)
	}
	if f.Watch.ProbeInterval != 500*time.Millisecond || f.Watch.ProbeTimeout != 500*time.Millisecond || f.Watch.UnhealthyThreshold != 2 ||
		f.Watch.ProbeRate != defaultProbeRate {
		t.Errorf("watch defaults: %+v", f.Watch)
	}
	if f.Watch.Namespace != "kfed-system" || f.Watch.SecretsNamespace != "kfed-dns" {
		t.Errorf("namespaces %q and %q, want kfed-system and kfed-dns", f.Watch.Namespace, f.Watch.SecretsNamespace)
	}
	if f.Fall.Through("x.demo.example.com.") {
		t.Error("fallthrough on by default")
	}
}

func TestParseZonesFromArgs(t *testing.T) {
	c := caddy.NewTestController("dns", "fed magicring a.example.com B.example.org. {\n\tns ns1.example.net\n}")
	c.ServerBlockKeys = []string{"."}
	f, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Zones, " ") != "a.example.com. b.example.org." {
		t.Errorf("zones %v", f.Zones)
	}
}

// TestParseErrors checks that every bad Corefile is refused with an error
// naming what is wrong.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		input, want string
	}{
		{`fed`, "federation's name"},
		{`fed magic.ring`, `"magic.ring" is not a DNS label`},
		{"fed a\nfed b", "only be used once"},
		{"fed magicring {\n\tcolour blue\n}", `unknown property "colour"`},
		{"fed magicring {\n\tkubeconfig\n}", "kubeconfig takes a file"},
		{"fed magicring {\n\tkubeconfig a b c\n}", "kubeconfig takes a file"},
		{"fed magicring {\n\tcontext\n}", "context takes one argument"},
		{"fed magicring {\n\texternal_ips yes\n}", "external_ips takes no arguments"},
		{"fed magicring {\n\tnamespace a.b\n}", `namespace "a.b" is not a DNS label`},
		{"fed magicring {\n\tnamespace\n}", "namespace takes one argument"},
		{"fed magicring {\n\tsecrets_namespace a.b\n}", `secrets_namespace "a.b" is not a DNS label`},
		{"fed magicring {\n\tsecrets_namespace a b\n}", "secrets_namespace takes one argument, got 2"},
		{"fed magicring {\n\tttl -1\n}", `ttl "-1"`},
		{"fed magicring {\n\tttl 5s\n}", `ttl "5s"`},
		{"fed magicring {\n\tttl 3601\n}", `ttl "3601"`},
		{"fed magicring {\n\tnegative_ttl many\n}", `negative_ttl "many"`},
		{"fed magicring {\n\tmax_addresses 0\n}", `max_addresses "0"`},
		{"fed magicring {\n\tns\n}", "ns needs a name"},
		{"fed magicring {\n\tns ns1.demo.example.com. 192.0.2.300\n}", `"192.0.2.300" is not an IP address`},
		{"fed magicring {\n\tns ns.example.net. 192.0.2.1\n}", "glue addresses are only for names inside the zone"},
		{"fed magicring {\n\tunhealthy maybe\n}", `fail_open or nodata, not "maybe"`},
		{"fed magicring {\n\tprobe_interval 1\n}", `probe_interval "1"`},
		{"fed magicring {\n\tprobe_interval 10ms\n}", `probe_interval "10ms"`},
		{"fed magicring {\n\tprobe_timeout 2s\n}", "probe_timeout 2s is longer than probe_interval 500ms"},
		{"fed magicring {\n\tunhealthy_threshold 0\n}", `unhealthy_threshold "0"`},
		{"fed magicring {\n\thealthy_threshold x\n}", `healthy_threshold "x"`},
		{"fed magicring {\n\tprobe_concurrency 0\n}", `probe_concurrency "0"`},
		{"fed magicring {\n\tstartup_timeout forever\n}", `startup_timeout "forever"`},
		{"fed magicring {\n\ttoken_refresh_check 500ms\n}", `token_refresh_check "500ms"`},
		{"fed magicring {\n\tdnssec keys\n}", "dnssec takes no argument"},
		{"fed magicring {\n\tdnssec\n\tdnssec\n}", "dnssec: given twice"},
		{"fed magicring {\n\tdnssec file /nonexistent/keyset.json\n}", `dnssec file "/nonexistent/keyset.json": open`},
		// A zone without a nameserver that answers is lame.
		{"fed magicring", "no ns option: name every server of the zone"},
		{"fed magicring {\n\tttl 10\n}", "no ns option"},
		{"fed magicring {\n\tns ns1.demo.example.com.\n}", "ns ns1.demo.example.com. is inside the zone and needs its address"},
		{"fed magicring {\n\tns_ttl 1w\n}", `ns_ttl "1w"`},
		{"fed magicring {\n\tns_ttl 604801\n}", `ns_ttl "604801"`},
		{"fed magicring {\n\trname @example.org\n}", `rname "@example.org" is not a mailbox`},
		{"fed magicring {\n\trname a@b@example.org\n}", `rname "a@b@example.org" is not a mailbox`},
		{"fed magicring {\n\trname hostmaster\n}", `rname "hostmaster" is not a mailbox`},
		{"fed magicring {\n\trname a b\n}", "rname takes one argument"},
	} {
		c := caddy.NewTestController("dns", tc.input)
		c.ServerBlockKeys = []string{"demo.example.com."}
		_, err := parse(c)
		if err == nil {
			t.Errorf("%q: no error, want one with %q", tc.input, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want one with %q", tc.input, err, tc.want)
		}
	}
}

func TestHostConfig(t *testing.T) {
	if _, err := hostConfig(WatchOptions{}); err == nil || !strings.Contains(err.Error(), "set kubeconfig") {
		t.Errorf("outside a cluster without a kubeconfig: %v, want advice to set kubeconfig", err)
	}
	if _, err := hostConfig(WatchOptions{Kubeconfig: "/nonexistent/kubeconfig"}); err == nil {
		t.Error("missing kubeconfig file: no error")
	}
}
