package plugin

import (
	"fmt"
	"io"
	"runtime"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/util/i18n"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kfed-dev/kfed/pkg/completion"
)

var (
	completionLong = templates.LongDesc(i18n.T(`
		Print a shell completion script for kubectl-fed, or kubectl's completion
		helper for the plugin.

		kubectl (1.26 and later) completes plugins itself: with kubectl's own
		completion loaded, kubectl fed <TAB> asks the kubectl_complete-fed program on
		PATH. make build writes it next to kubectl-fed and release archives carry it,
		but krew links only kubectl-fed onto PATH: "completion kubectl" prints the
		helper, to be written next to krew's link. The shell scripts complete
		kubectl-fed when it is run directly, with the same cluster names, federations
		and resource types.`))

	completionExample = templates.Examples(i18n.T(`
		# bash, for this shell
		source <(kubectl fed completion bash)

		# zsh, for every shell
		kubectl fed completion zsh > "${fpath[1]}/_kubectl-fed"

		# fish
		kubectl fed completion fish > ~/.config/fish/completions/kubectl-fed.fish

		# PowerShell
		kubectl fed completion powershell | Out-String | Invoke-Expression

		# kubectl fed <TAB> for a krew install
		kubectl fed completion kubectl > "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-fed"
		chmod +x "${KREW_ROOT:-$HOME/.krew}/bin/kubectl_complete-fed"`))
)

// CompletionOptions holds the arguments of `kubectl fed completion`.
type CompletionOptions struct {
	Shell string

	root *cobra.Command
	genericiooptions.IOStreams
}

// NewCmdCompletion returns `kubectl fed completion`.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "completion bash|zsh|fish|powershell|kubectl",
		Short:                 i18n.T("Print a shell completion script"),
		Long:                  completionLong,
		Example:               completionExample,
		DisableFlagsInUseLine: true,
		ValidArgs:             []string{"bash", "zsh", "fish", "powershell", "kubectl"},
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		Run: func(cmd *cobra.Command, args []string) {
			o.Complete(cmd, args)
			cmdutil.CheckErr(o.Run())
		},
	}
	return cmd
}

// Complete takes the shell and the command tree to complete.
func (o *CompletionOptions) Complete(cmd *cobra.Command, args []string) {
	o.Shell = args[0]
	o.root = cmd.Root()
}

// Run writes the script. The program the shell completes is kubectl-fed,
// the name on PATH, not the root command's name inside kubectl.
func (o *CompletionOptions) Run() error {
	use := o.root.Use
	o.root.Use = "kubectl-fed"
	defer func() { o.root.Use = use }()
	switch o.Shell {
	case "bash":
		return o.root.GenBashCompletionV2(o.Out, true)
	case "zsh":
		return o.root.GenZshCompletion(o.Out)
	case "fish":
		return o.root.GenFishCompletion(o.Out, true)
	case "powershell":
		return o.root.GenPowerShellCompletionWithDesc(o.Out)
	case "kubectl":
		_, err := io.WriteString(o.Out, completion.Script(runtime.GOOS))
		return err
	}
	return fmt.Errorf("unknown shell %q: use bash, zsh, fish, powershell or kubectl", o.Shell)
}
