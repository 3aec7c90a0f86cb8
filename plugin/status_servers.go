package plugin

// The servers half of `kubectl fed status`: the coredns-fed servers,
// found as kubectl fed dns check finds them, each asked for the zone's SOA,
// and their pods for their last sync (status_sync.go).

import (
	"context"
	"fmt"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
)

// servers finds the coredns-fed servers and asks each for the SOA. It
// returns a note instead when coredns-fed is installed nowhere.
func (o *StatusOptions) servers(ctx context.Context, fs *fedSession) ([]ServerStatus, string) {
	servers := make([]ServerStatus, 0, len(o.Servers))
	for _, s := range o.Servers {
		servers = append(servers, ServerStatus{Address: s})
	}
	var clusters []*dnsCluster
	if len(servers) == 0 {
		var installed bool
		servers, clusters, installed = o.findServers(ctx, fs)
		if !installed {
			return servers, fmt.Sprintf("coredns-fed is not installed: no Service %s/%s in the host or a member; kubectl fed dns install installs it", v1alpha1.Namespace, corednsFedName)
		}
	}
	ask := &DNSCheckOptions{Timeout: o.DNSTimeout}
	zone := dns.Fqdn(fs.federation.Spec.Domain)
	answers := fanout.Map(ctx, servers, fanout.Options{}, func(ctx context.Context, s ServerStatus) (ServerStatus, error) {
		if s.Address != "" {
			askSOA(ask, &s, zone)
		}
		return s, nil
	})
	for i, a := range answers {
		servers[i] = a.Value
	}
	o.readSyncs(ctx, clusters, servers)
	return servers, ""
}

// findServers takes the load-balancer addresses of the coredns-fed Service
// in the host and in every Ready member, and returns them with the
// clusters looked in, and whether any cluster has that Service. A Service without an address, or one that cannot be
// read, is a server with an error. Members that cannot be reached are left
// out: the members table says why.
func (o *StatusOptions) findServers(ctx context.Context, fs *fedSession) ([]ServerStatus, []*dnsCluster, bool) {
	clusters, err := fs.dnsClusters(ctx, o.host)
	if err != nil {
		return []ServerStatus{{Cluster: "host", Error: err.Error()}}, nil, true
	}
	results := fanout.Map(ctx, clusters, fanout.Options{}, func(ctx context.Context, c *dnsCluster) ([]corev1.LoadBalancerIngress, error) {
		if c.err != nil {
			return nil, c.err
		}
		return loadBalancerIngress(ctx, c)
	})
	servers := []ServerStatus{}
	installed := false
	for i, r := range results {
		c := clusters[i]
		switch {
		case c.err != nil, apierrors.IsNotFound(r.Err):
			continue
		case r.Err != nil:
			installed = true
			servers = append(servers, ServerStatus{Cluster: c.name, Host: c.host,
				Error: fmt.Sprintf("cannot read the Service %s/%s: %v", v1alpha1.Namespace, corednsFedName, r.Err)})
			continue
		}
		installed = true
		if len(r.Value) == 0 {
			servers = append(servers, ServerStatus{Cluster: c.name, Host: c.host,
				Error: fmt.Sprintf("the Service %s/%s has no load-balancer address", v1alpha1.Namespace, corednsFedName)})
		}
		for _, in := range r.Value {
			addr := in.IP
			if addr == "" {
				addr = in.Hostname
			}
			servers = append(servers, ServerStatus{Address: withPort(addr, "53"), Cluster: c.name, Host: c.host})
		}
	}
	return servers, clusters, installed
}

// askSOA asks a server for the zone's SOA and records what it says, in
// the words of kubectl fed dns check.
func askSOA(ask *DNSCheckOptions, s *ServerStatus, zone string) {
	r, err := ask.query(s.Address, zone, dns.TypeSOA)
	if err != nil {
		s.Error = unanswered(s.Address, "the SOA of "+zone, err)
		return
	}
	s.Answering = true
	switch {
	case r.Rcode == dns.RcodeServerFailure:
		s.Error = "answers SERVFAIL for the SOA of " + zone + ": it has not synced with the host and members yet, or cannot read them"
		return
	case r.Rcode == dns.RcodeRefused:
		s.Error = "refuses " + zone + ": it is not configured for this zone"
		return
	case r.Rcode != dns.RcodeSuccess:
		s.Error = fmt.Sprintf("answers %s for the SOA of %s", dns.RcodeToString[r.Rcode], zone)
		return
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			s.Synced, s.Serial = true, soa.Serial
			s.SOA = fmt.Sprintf("%s %s %d %d %d %d %d", soa.Ns, soa.Mbox, soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl)
		}
	}
	switch {
	case !s.Synced:
		s.Error = "answers with no SOA for " + zone
	case !r.Authoritative:
		s.Error = "answers for " + zone + " but not authoritatively: is this a resolver rather than coredns-fed?"
	}
}
