package main

import (
	"slices"
	"testing"

	"github.com/coredns/caddy"
)

// TestPlugins checks that the binary carries every plugin the Corefiles
// kfed writes or documents name, and none of the backends it leaves out.
func TestPlugins(t *testing.T) {
	// caddy lists a server type's plugins as "type.name".
	all := caddy.ListPlugins()["others"]
	has := func(name string) bool { return slices.Contains(all, "dns."+name) }
	for _, want := range []string{
		"fed", "conform", "file", "prometheus", "errors", "log", "health", "ready",
		"reload", "whoami", "cache", "bind", "root", "pprof", "geoip", "dnssec", "sign",
		"transfer", "tsig", "acl", "any", "minimal", "header", "local", "chaos", "cancel",
	} {
		if !has(want) {
			t.Errorf("coredns-fed lacks the %s plugin", want)
		}
	}
	for _, gone := range []string{"route53", "clouddns", "azure", "etcd", "kubernetes", "trace"} {
		if has(gone) {
			t.Errorf("coredns-fed carries the %s plugin, which it leaves out", gone)
		}
	}
}
