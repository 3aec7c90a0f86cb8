package plugin

import (
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
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
	cmd.AddCommand(NewCmdDNSInstall(host, streams), NewCmdDNSCheck(host, streams), NewCmdDNSExplain(host, streams), NewCmdDNSRotateKey(host, streams))
	return cmd
}

// isMailbox reports whether s is a mailbox as the SOA's RNAME takes it:
// local@domain, with a domain of two labels or more.
func isMailbox(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsAny(local, " \t\n{}#;") {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(domain, "."), ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(validation.IsDNS1123Label(strings.ToLower(l))) > 0 {
			return false
		}
	}
	return true
}
