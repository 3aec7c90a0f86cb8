package plugin

import (
	"github.com/kfed-dev/kfed/pkg/membership"
)

// checkHostTransport refuses, with --all-clusters, to give members a host
// token that would reach the host in clear or unverified, unless the
// operator said --insecure-host: every member's copy of the token could be
// stolen by anyone on its path to the host.
func (o *DNSInstallOptions) checkHostTransport() error {
	if !o.AllClusters || o.InsecureHost {
		return nil
	}
	server, what := o.store.Config.Host, "the host's context"
	if o.HostServer != "" {
		server, what = o.HostServer, "--host-server"
	}
	return membership.CheckTransport(what, server, o.store.Config.TLSClientConfig.Insecure,
		"give the host's https:// address with --host-server and a context that verifies its CA, or pass --insecure-host if you accept the risk")
}
