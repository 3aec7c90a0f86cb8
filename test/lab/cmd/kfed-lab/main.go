// Command kfed-lab starts, stops and breaks the local lab of real Kubernetes
// clusters that kfed's demo, tests and benchmarks run on.
//
//	kfed-lab up                 start usa, eur and jpn in .lab
//	kfed-lab status             show the clusters, their programs and memory
//	kfed-lab apiserver stop usa a cluster outage
//	kfed-lab apiserver freeze usa a hung control plane: connections accepted, no answers
//	kfed-lab lb down 127.x.y.z  a data-path outage
//	kfed-lab down               stop everything the lab started
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var dir string
	root := &cobra.Command{
		Use:           "kfed-lab",
		Short:         "Run a local lab of real Kubernetes clusters on loopback",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&dir, "dir", ".lab", "Directory of the lab: kubeconfig, certificates, data and logs.")
	root.AddCommand(
		newUpCmd(&dir),
		newSuperviseCmd(&dir),
		newDownCmd(&dir),
		newStatusCmd(&dir),
		newAPIServerCmd(&dir),
		newLoadBalancerCmd(&dir),
	)
	return root
}
