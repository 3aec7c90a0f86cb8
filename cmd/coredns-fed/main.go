// Command coredns-fed is CoreDNS built with kfed's fed plugin: an authoritative
// server for a delegated subdomain that answers from live multi-cluster
// endpoint health.
package main

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/coremain"

	// Every plugin of the CoreDNS release this binary is built on.
	_ "github.com/coredns/coredns/core/plugin"

	"github.com/kfed-dev/kfed/pkg/version"
)

func main() {
	// coremain's init named the app after CoreDNS; -version should say which
	// kfed build this is and which CoreDNS release it carries.
	caddy.AppName = "coredns-fed"
	caddy.AppVersion = version.Version + " (CoreDNS " + coremain.CoreVersion + ")"
	coremain.GitCommit = version.GitCommit
	coremain.Run()
}
