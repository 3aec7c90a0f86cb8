// Command kubectl-fed is the kubectl plugin `kubectl fed`: it joins clusters
// into a federation, distributes manifests to them and shows their state.
package main

import (
	"os"

	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/component-base/cli"

	// Every client-go credential plugin, so any kubeconfig kubectl accepts works here.
	_ "k8s.io/client-go/plugin/pkg/client/auth"

	"github.com/kfed-dev/kfed/plugin"
)

func main() {
	flags := pflag.NewFlagSet("kubectl-fed", pflag.ExitOnError)
	pflag.CommandLine = flags

	cmd := plugin.NewCmdFed(genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	if err := cli.RunNoErrOutput(cmd); err != nil {
		plugin.CheckErr(err)
	}
}
