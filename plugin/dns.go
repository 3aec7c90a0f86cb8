package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"
)

var dnsLong = templates.LongDesc(i18n.T(`
	Install and check coredns-fed, the federation's authoritative DNS server.

	coredns-fed answers for the zone of the federation (its --domain) from the
	live health of every member. The parent zone delegates that zone to it with
	NS records and glue, which install prints.`))

// NewCmdDNS returns `kubectl fed dns`, which groups install and check.
func NewCmdDNS(host *hostFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dns",
		Short: i18n.T("Install and check coredns-fed, the federation's DNS server"),
		Long:  dnsLong,
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmd.Help()
		},
	}
	cmd.AddCommand(NewCmdDNSInstall(host, streams), NewCmdDNSCheck(host, streams))
	return cmd
}
