package conform

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
)

func init() { plugin.Register(pluginName, setup) }

// setup reads
//
//	conform
//
// which takes no arguments.
func setup(c *caddy.Controller) error {
	for c.Next() {
		if len(c.RemainingArgs()) != 0 {
			return plugin.Error(pluginName, c.ArgErr())
		}
		if c.NextBlock() {
			return plugin.Error(pluginName, c.Errf("conform takes no options, found %q", c.Val()))
		}
	}
	hook()
	cfg := dnsserver.GetConfig(c)
	cfg.UDPDecorateWriterFunc = udpDecorator(cfg.UDPDecorateWriterFunc)
	cg := &Conform{}
	cfg.AddPlugin(func(next plugin.Handler) plugin.Handler {
		cg.Next = next
		return cg
	})
	return nil
}
