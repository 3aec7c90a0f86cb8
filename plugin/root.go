// Package plugin holds the commands of the kubectl plugin `kubectl fed`. Each
// subcommand lives in its own file as an Options type with Complete, Validate
// and Run, in the manner of kubectl's own commands.
package plugin

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/templates"

	// Initialized before this package's variables call i18n.T.
	_ "github.com/kfed-dev/kfed/plugin/translations"
)

var fedLong = templates.LongDesc(`
	Federate Kubernetes clusters without a federation control plane.

	The host cluster, chosen with --context like any kubectl command, stores the
	federation: its members, their credentials and what was distributed to them.
	Members are joined once; manifests are applied once and land in every member
	their placement selects.

	Flags of the older kubefed tool are accepted: --host-cluster-context means
	--context, and --dns-zone-name means --domain.`)

// NewCmdFed returns the root command of the plugin, `kubectl fed`.
func NewCmdFed(streams genericiooptions.IOStreams) *cobra.Command {
	configFlags := genericclioptions.NewConfigFlags(true)

	cmd := &cobra.Command{
		Use: "fed",
		// Help, usage errors and completion name the command as users type it.
		Annotations:  map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl fed"},
		Short:        "Federate Kubernetes clusters",
		Long:         fedLong,
		SilenceUsage: true,
		// Running `kubectl fed` alone prints help, as kubectl does.
		Run: func(cmd *cobra.Command, args []string) {
			cmd.Help()
		},
	}
	// kubectl's plugin handling passes the user's flags through as they are;
	// this makes --kubeconfig, --context, -n and the rest mean what they mean
	// for kubectl.
	configFlags.AddFlags(cmd.PersistentFlags())
	// kfed bounds every request, so that a server that stops answering
	// cannot hold a command for ever: 0 does not mean "no timeout" here.
	cmd.PersistentFlags().Lookup("request-timeout").Usage = "The length of time to wait before giving up on a single server request, to the host or to a member. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h). 0 means 30s."
	host := newHostFlags(configFlags)
	host.errOut = streams.ErrOut
	host.addFlags(cmd.PersistentFlags())
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error { return host.complete() }
	for _, name := range []string{"context", "host-cluster-context"} {
		_ = cmd.RegisterFlagCompletionFunc(name, host.completeContexts)
	}

	cmd.AddCommand(
		NewCmdInit(host, streams),
		NewCmdJoin(host, streams),
		NewCmdUnjoin(host, streams),
		NewCmdClusters(host, streams),
		NewCmdRotate(host, streams),
		NewCmdApply(host, streams),
		NewCmdDelete(host, streams),
		NewCmdSync(host, streams),
		NewCmdRebalance(host, streams),
		NewCmdDiff(host, streams),
		NewCmdGet(host, streams),
		NewCmdStatus(host, streams),
		NewCmdVersion(streams),
		NewCmdDNS(host, streams),
		NewCmdCompletion(streams),
	)
	return cmd
}

// CheckErr prints err the way kubectl does and exits with status 1.
func CheckErr(err error) {
	cmdutil.CheckErr(err)
}
