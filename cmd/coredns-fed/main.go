// Command coredns-fed is CoreDNS built with kfed's fed plugin: an authoritative
// server for a delegated subdomain that answers from live multi-cluster
// endpoint health.
package main

import (
	"slices"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	// The fed plugin, and conform, which keeps replies to the protocol.
	_ "github.com/kfed-dev/kfed/dnsserver"
	_ "github.com/kfed-dev/kfed/dnsserver/conform"

	"github.com/kfed-dev/kfed/pkg/version"
)

func init() {
	// fed answers from its own data, as kubernetes and file do, so it sits
	// with them: after what decorates or filters queries and answers
	// (metadata, geoip, acl, cache, dnssec, loadbalance, transfer), before
	// the data plugins it may fall through to.
	i := slices.Index(dnsserver.Directives, "kubernetes")
	if i < 0 {
		panic("coredns-fed: CoreDNS has no kubernetes directive to place fed before")
	}
	dnsserver.Directives = slices.Insert(dnsserver.Directives, i, "fed")

	// conform refuses what no plugin should answer and normalises every
	// reply's OPT record, so it sits after what observes queries and
	// replies as they are (prometheus, errors, log, dnstap) and before
	// everything that answers, caches or rewrites.
	j := slices.Index(dnsserver.Directives, "dnstap")
	if j < 0 {
		panic("coredns-fed: CoreDNS has no dnstap directive to place conform after")
	}
	dnsserver.Directives = slices.Insert(dnsserver.Directives, j+1, "conform")
}

func main() {
	// coremain's init named the app after CoreDNS; -version should say which
	// kfed build this is, when it was built and which CoreDNS release it
	// carries; coremain prints the commit on the next line.
	caddy.AppName = "coredns-fed"
	caddy.AppVersion = version.Version + " (CoreDNS " + coremain.CoreVersion + ", built " + version.BuildDate + ")"
	coremain.GitCommit = version.GitCommit
	go stackFloor()
	coremain.Run()
}
