package dnsserver

// Ready implements the ready plugin's Readiness: the plugin is ready once
// the host and every reachable member have synced and every entry point
// known then has been probed once. It stays ready afterwards, whatever
// becomes unreachable, since it then answers from what it last knew. A
// snapshot stands for a host that does not answer, and after a reload the
// new instance is ready at once when it took over the old one's watches.
// A server that signs is ready once it has its keys too.
func (f *Fed) Ready() bool {
	return f.index.Load() != nil && (f.signer == nil || f.signer.ready())
}
