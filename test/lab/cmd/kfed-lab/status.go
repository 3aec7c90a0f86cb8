package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kfed-dev/kfed/test/lab"
)

func newStatusCmd(dir *string) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the lab's clusters, their programs and resident memory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			client, err := controlClient(*dir)
			if err != nil {
				return err
			}
			clusters, err := client.Status()
			if err != nil {
				return err
			}
			if output == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(clusters)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 2, ' ', 0)
			fmt.Fprintln(w, "CLUSTER\tREGION\tZONE\tSERVER\tLB POOL\tPROCESSES\tRSS")
			for _, c := range clusters {
				running, rss := 0, int64(0)
				for _, p := range c.Processes {
					if p.PID != 0 {
						running++
					}
					rss += p.RSS
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%dMi\n", c.Name, c.Region, c.Zone, c.Server, c.LoadBalancerPool, running, len(c.Processes), rss>>20)
			}
			w.Flush()
			for _, c := range clusters {
				for _, p := range c.Processes {
					if p.Frozen {
						fmt.Fprintf(cmd.OutOrStdout(), "%s: %s is frozen (kfed-lab apiserver thaw %s)\n", c.Name, p.Name, c.Name)
					}
				}
			}
			for _, c := range clusters {
				svcs := make([]string, 0, len(c.LoadBalancers))
				for svc := range c.LoadBalancers {
					svcs = append(svcs, svc)
				}
				sort.Strings(svcs)
				for _, svc := range svcs {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: service %s at %s\n", c.Name, svc, c.LoadBalancers[svc])
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json, or empty for a table.")
	return cmd
}

func controlClient(dir string) (*lab.ControlClient, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	st, err := readState(dir)
	if err != nil {
		return nil, err
	}
	return lab.NewControlClient(st.Socket), nil
}

// apiServerActions are what `kfed-lab apiserver` does, and what it prints
// once done.
var apiServerActions = map[string]string{
	"stop":   "stopped",
	"start":  "started and ready",
	"freeze": "frozen: it accepts connections and answers nothing",
	"thaw":   "thawed and ready",
}

func newAPIServerCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "apiserver stop|start|freeze|thaw CLUSTER",
		Short: "Stop, start, freeze or thaw one cluster's API server: a cluster outage",
		Long: `Stop, start, freeze or thaw one cluster's API server.

stop ends the process: connections to its port are refused. freeze stops it
with SIGSTOP: connections are still accepted and nothing answers, as when a
control plane hangs; thaw continues it. start also thaws a frozen server.`,
		Example: `  kfed-lab apiserver stop eur
  kfed-lab apiserver start eur
  kfed-lab apiserver freeze jpn
  kfed-lab apiserver thaw jpn`,
		Args:      cobra.ExactArgs(2),
		ValidArgs: []string{"stop", "start", "freeze", "thaw"},
		RunE: func(cmd *cobra.Command, args []string) error {
			done, ok := apiServerActions[args[0]]
			if !ok {
				return fmt.Errorf("first argument must be stop, start, freeze or thaw, not %q", args[0])
			}
			client, err := controlClient(*dir)
			if err != nil {
				return err
			}
			if err := client.APIServer(args[1], args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cluster %s: API server %s\n", args[1], done)
			return nil
		},
	}
}

func newLoadBalancerCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "lb down|up ADDRESS",
		Short: "Take one load-balancer address down or back up: a data-path outage",
		Example: `  kfed-lab lb down 127.42.7.1
  kfed-lab lb up 127.42.7.1`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "down" && args[0] != "up" {
				return fmt.Errorf("first argument must be down or up, not %q", args[0])
			}
			client, err := controlClient(*dir)
			if err != nil {
				return err
			}
			if err := client.LoadBalancer(args[1], args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "load balancer %s is %s\n", args[1], args[0])
			return nil
		},
	}
}
