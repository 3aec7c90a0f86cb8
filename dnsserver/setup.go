package dnsserver

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	clog "github.com/coredns/coredns/plugin/pkg/log"
	"github.com/miekg/dns"
)

var log = clog.NewWithPlugin(pluginName)

func init() { plugin.Register(pluginName, setup) }

func setup(c *caddy.Controller) error {
	f, err := parse(c)
	if err != nil {
		return plugin.Error(pluginName, err)
	}
	hostCfg, err := hostConfig(f.Watch)
	if err != nil {
		return plugin.Error(pluginName, err)
	}

	cfg := dnsserver.GetConfig(c)
	if f.GeoDB != nil {
		c.OnStartup(func() error {
			f.GeoDB.Watch(f.GeoReload)
			return nil
		})
		c.OnShutdown(func() error {
			f.GeoDB.Close()
			return nil
		})
	}
	// OnStartup waits for the first sync, bounded by startup_timeout: on a
	// reload the old instance answers meanwhile, since caddy hands the
	// listeners over only once every OnStartup has returned, so a reload
	// costs no SERVFAIL. See handover.go.
	c.OnStartup(func() error {
		start := time.Now()
		ctrl, running, err := attachController(f, hostCfg, serverLabel(cfg))
		if err != nil {
			return plugin.Error(pluginName, err)
		}
		switch {
		case !ctrl.waitSynced():
			log.Warningf("Federation %s has not synced within startup_timeout %s: serving, with SERVFAIL until it syncs", f.Federation, f.Watch.StartupTimeout)
		case running:
			log.Infof("Federation %s goes on with the running watches and probes, ready in %s", f.Federation, time.Since(start).Round(time.Microsecond))
		default:
			log.Infof("Federation %s ready after a wait of %s", f.Federation, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
	c.OnShutdown(func() error { return detachController(f) })
	c.OnRestart(restartBegins)
	c.OnRestartFailed(restartFailed)
	if f.Explain != "" {
		setupExplain(c, f)
	}

	cfg.AddPlugin(func(next plugin.Handler) plugin.Handler {
		f.Next = next
		return f
	})
	return nil
}

// parse reads the plugin's Corefile block:
//
//	fed FEDERATION [ZONES...] {
//	    kubeconfig KUBECONFIG [CONTEXT]
//	    ...
//	}
func parse(c *caddy.Controller) (*Fed, error) {
	var f *Fed
	for c.Next() {
		if f != nil {
			return nil, plugin.ErrOnce
		}
		args := c.RemainingArgs()
		if len(args) == 0 {
			return nil, c.Errf("fed needs the federation's name")
		}
		fed := strings.ToLower(args[0])
		if _, ok := dns.IsDomainName(fed); !ok || strings.Contains(fed, ".") {
			return nil, c.Errf("federation name %q is not a DNS label", args[0])
		}
		f = New(fed, plugin.OriginsFromArgsOrServerBlock(args[1:], c.ServerBlockKeys))
		for c.NextBlock() {
			if err := parseOption(c, f); err != nil {
				return nil, err
			}
		}
	}
	if f == nil {
		return nil, c.ArgErr()
	}
	if f.Watch.ProbeTimeout > f.Watch.ProbeInterval {
		return nil, c.Errf("probe_timeout %s is longer than probe_interval %s", f.Watch.ProbeTimeout, f.Watch.ProbeInterval)
	}
	if err := checkNameservers(c, f); err != nil {
		return nil, err
	}
	return f, nil
}

// checkNameservers refuses a zone that would be lame: one with no NS
// record, or whose NS names inside it have no address to answer with.
func checkNameservers(c *caddy.Controller, f *Fed) error {
	if len(f.Nameservers) == 0 {
		return c.Errf("no ns option: name every server of the zone and its address, such as `ns ns1.%s 192.0.2.53` (kubectl fed dns install writes them)", f.Zones[0])
	}
	for _, ns := range f.Nameservers {
		if len(ns.Addrs) == 0 && plugin.Zones(f.Zones).Matches(ns.Name) != "" {
			return c.Errf("ns %s is inside the zone and needs its address, such as `ns %s 192.0.2.53`: resolvers find it nowhere else", ns.Name, ns.Name)
		}
	}
	return nil
}

// parseRname reads the SOA's RNAME: a mailbox as an address
// (hostmaster@example.com) or as a domain name (hostmaster.example.com).
func parseRname(c *caddy.Controller, v string) (string, error) {
	name := v
	if local, domain, ok := strings.Cut(v, "@"); ok {
		if local == "" || domain == "" || strings.Contains(domain, "@") {
			return "", c.Errf("rname %q is not a mailbox such as hostmaster@example.com", v)
		}
		// A dot inside the local part is escaped, so that it stays there
		// (RFC 1035, section 8).
		name = strings.ReplaceAll(local, ".", `\.`) + "." + domain
	}
	name = strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(name); !ok || dns.CountLabel(name) < 2 {
		return "", c.Errf("rname %q is not a mailbox such as hostmaster@example.com", v)
	}
	return name, nil
}

func parseOption(c *caddy.Controller, f *Fed) error {
	opt := c.Val()
	args := c.RemainingArgs()
	one := func() (string, error) {
		if len(args) != 1 {
			return "", c.Errf("%s takes one argument, got %d", opt, len(args))
		}
		return args[0], nil
	}
	var err error
	switch opt {
	case "kubeconfig":
		if len(args) < 1 || len(args) > 2 {
			return c.Errf("kubeconfig takes a file and an optional context, got %d arguments", len(args))
		}
		f.Watch.Kubeconfig = args[0]
		if len(args) == 2 {
			f.Watch.Context = args[1]
		}
	case "context":
		f.Watch.Context, err = one()
	case "namespace":
		f.Watch.Namespace, err = parseNamespace(c, opt, args)
	case "secrets_namespace":
		f.Watch.SecretsNamespace, err = parseNamespace(c, opt, args)
	case "ttl":
		f.TTL, err = parseSeconds(c, opt, args, 0, 3600)
	case "negative_ttl":
		f.NegativeTTL, err = parseSeconds(c, opt, args, 0, 3600)
	case "ns":
		err = parseNameserver(c, f, args)
	case "ns_ttl":
		f.NSTTL, err = parseSeconds(c, opt, args, 0, 604800)
	case "rname":
		var v string
		if v, err = one(); err == nil {
			f.Rname, err = parseRname(c, v)
		}
	case "max_addresses":
		f.MaxAddresses, err = parseCount(c, opt, args, 1, 1000)
	case "unhealthy":
		var v string
		if v, err = one(); err == nil {
			switch v {
			case "fail_open":
				f.FailOpen = true
			case "nodata":
				f.FailOpen = false
			default:
				return c.Errf("unhealthy must be fail_open or nodata, not %q", v)
			}
		}
	case "probe_interval":
		f.Watch.ProbeInterval, err = parseDuration(c, opt, args, 100*time.Millisecond, time.Hour)
	case "probe_timeout":
		f.Watch.ProbeTimeout, err = parseDuration(c, opt, args, 10*time.Millisecond, time.Hour)
	case "unhealthy_threshold":
		f.Watch.UnhealthyThreshold, err = parseCount(c, opt, args, 1, 100)
	case "healthy_threshold":
		f.Watch.HealthyThreshold, err = parseCount(c, opt, args, 1, 100)
	case "probe_concurrency":
		f.Watch.ProbeConcurrency, err = parseCount(c, opt, args, 1, 10000)
	case "probe_rate":
		f.Watch.ProbeRate, err = parseCount(c, opt, args, 1, 1000000)
	case "startup_timeout":
		f.Watch.StartupTimeout, err = parseDuration(c, opt, args, time.Second, time.Hour)
	case "token_refresh_check":
		f.Watch.TokenRefreshCheck, err = parseDuration(c, opt, args, time.Second, 24*time.Hour)
	case "dnssec":
		err = parseDNSSEC(c, f, args)
	case "snapshot":
		f.Watch.Snapshot, err = parseSnapshotPath(c, args)
	case "fallthrough":
		f.Fall.SetZonesFromArgs(args)
	case "policy":
		var v string
		if v, err = one(); err == nil {
			p, ok := ParsePolicy(v)
			if !ok {
				return c.Errf("policy must be geo, latency, weighted, failover or all, not %q", v)
			}
			f.Policy.Default = p
		}
	case "nearest":
		f.Policy.Nearest, err = parseCount(c, opt, args, 1, 100)
	case "geoip":
		var path string
		if path, err = one(); err == nil {
			if f.GeoDB != nil {
				return c.Errf("geoip %q: only one database may be given", path)
			}
			db, dbErr := OpenGeoDB(path)
			if dbErr != nil {
				return c.Errf("geoip %q: %v", path, dbErr)
			}
			f.GeoDB = db
			f.Policy.Locate = &Locator{DB: db}
		}
	case "geoip_reload":
		f.GeoReload, err = parseDuration(c, opt, args, 100*time.Millisecond, 24*time.Hour)
	case "latency":
		err = parseLatency(c, f, args)
	case "external_ips":
		if len(args) != 0 {
			return c.Errf("external_ips takes no arguments")
		}
		f.Watch.ExternalIPs = true
	case "explain":
		var v string
		if v, err = one(); err == nil {
			f.Explain, err = parseExplainAddr(c, v)
		}
	case "probe_source":
		var v string
		if v, err = one(); err == nil {
			a, aErr := netip.ParseAddr(v)
			if aErr != nil {
				return c.Errf("probe_source %q is not an IP address", v)
			}
			f.Watch.ProbeSource = a.Unmap()
		}
	default:
		return c.Errf("unknown property %q", opt)
	}
	return err
}

func parseNamespace(c *caddy.Controller, opt string, args []string) (string, error) {
	if len(args) != 1 {
		return "", c.Errf("%s takes one argument, got %d", opt, len(args))
	}
	ns := args[0]
	if _, ok := dns.IsDomainName(ns); !ok || strings.Contains(ns, ".") {
		return "", c.Errf("%s %q is not a DNS label", opt, ns)
	}
	return ns, nil
}

func parseSeconds(c *caddy.Controller, opt string, args []string, lo, hi int) (uint32, error) {
	n, err := parseCount(c, opt, args, lo, hi)
	return uint32(n), err
}

func parseCount(c *caddy.Controller, opt string, args []string, lo, hi int) (int, error) {
	if len(args) != 1 {
		return 0, c.Errf("%s takes one argument, got %d", opt, len(args))
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < lo || n > hi {
		return 0, c.Errf("%s %q: want a whole number from %d to %d", opt, args[0], lo, hi)
	}
	return n, nil
}

func parseDuration(c *caddy.Controller, opt string, args []string, lo, hi time.Duration) (time.Duration, error) {
	if len(args) != 1 {
		return 0, c.Errf("%s takes one argument, got %d", opt, len(args))
	}
	d, err := time.ParseDuration(args[0])
	if err != nil || d < lo || d > hi {
		return 0, c.Errf("%s %q: want a duration from %s to %s", opt, args[0], lo, hi)
	}
	return d, nil
}

// parseLatency reads latency FROM TO DURATION: the latency from a client
// region to a member region.
func parseLatency(c *caddy.Controller, f *Fed, args []string) error {
	if len(args) != 3 {
		return c.Errf("latency takes a client region, a member region and a duration, got %d arguments", len(args))
	}
	d, err := time.ParseDuration(args[2])
	if err != nil || d < 0 || d > time.Minute {
		return c.Errf("latency %s %s %q: want a duration from 0 to 1m", args[0], args[1], args[2])
	}
	if f.Policy.Latency == nil {
		f.Policy.Latency = &LatencyTable{}
	}
	if err := f.Policy.Latency.Set(strings.ToLower(args[0]), strings.ToLower(args[1]), d); err != nil {
		return c.Errf("latency %s: %v", args[0], err)
	}
	return nil
}

// parseNameserver reads ns NAME [ADDRESS...]. Addresses are the glue of a
// name inside the zone; a name outside it takes none.
func parseNameserver(c *caddy.Controller, f *Fed, args []string) error {
	if len(args) == 0 {
		return c.Errf("ns needs a name server's name")
	}
	name := strings.ToLower(dns.Fqdn(args[0]))
	if _, ok := dns.IsDomainName(name); !ok {
		return c.Errf("ns name %q is not a domain name", args[0])
	}
	ns := Nameserver{Name: name}
	for _, a := range args[1:] {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return c.Errf("ns %s: %q is not an IP address", args[0], a)
		}
		ns.Addrs = append(ns.Addrs, addr.Unmap())
	}
	if len(ns.Addrs) > 0 && plugin.Zones(f.Zones).Matches(name) == "" {
		return c.Errf("ns %s: glue addresses are only for names inside the zone", args[0])
	}
	f.Nameservers = append(f.Nameservers, ns)
	return nil
}

// serverLabel returns the server label of the block's metrics, as the
// server puts it on the query path's metrics.
func serverLabel(cfg *dnsserver.Config) string {
	host := ""
	if len(cfg.ListenHosts) > 0 {
		host = cfg.ListenHosts[0]
	}
	addr := net.JoinHostPort(host, cfg.Port)
	if a, err := net.ResolveTCPAddr("tcp", addr); err == nil {
		addr = a.String()
	}
	return cfg.Transport + "://" + addr
}
