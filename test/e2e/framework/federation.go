package framework

import (
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

// Federate creates the federation name, with the DNS domain given, in the
// host context host, and joins each member under its context's name, all
// through the real `kubectl fed`.
func (k *Kubectl) Federate(ctx context.Context, name, domain, host string, members []string) error {
	steps := [][]string{{"fed", "init", name, "--context", host, "--domain", domain}}
	for _, m := range members {
		steps = append(steps, []string{"fed", "join", m, "--context", host, "--cluster-context", m})
	}
	for _, args := range steps {
		res, err := k.Run(ctx, args...)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("setting up federation %s:\n%s", name, res)
		}
	}
	return nil
}

// RunFederated is a TestMain for packages that share one federated lab: it
// starts a lab of the default clusters, federates them as magicring
// (domain demo.example.com) from host, hands the lab and a Kubectl to use
// to set, runs the tests and stops the lab. It returns the exit code.
func RunFederated(m *testing.M, name, host string, members []string, set func(*lab.Lab, *Kubectl)) int {
	return RunFederatedSetUp(m, name, host, members, func(_ context.Context, l *lab.Lab, k *Kubectl) (func(), error) {
		set(l, k)
		return nil, nil
	})
}

// RunFederatedSetUp is RunFederated for packages that need more than the
// federation before their tests: setUp runs once it is made, within five
// minutes, and the function it returns, if any, runs after the tests, or
// at once when setUp fails.
func RunFederatedSetUp(m *testing.M, name, host string, members []string, setUp func(context.Context, *lab.Lab, *Kubectl) (func(), error)) int {
	return RunFederatedLab(m, name, host, members, nil, setUp)
}

// RunFederatedLab is RunFederatedSetUp with real nodes: realNodes gives the
// number of each cluster's, and every real node imports the coredns-fed
// image of CoreDNSFedImageEnv. With real nodes, the lab has only the default
// clusters that host and members name. Where the machine cannot run real nodes, no
// lab starts and every test that calls SkipWithoutRealPods skips, saying
// what is missing.
func RunFederatedLab(m *testing.M, name, host string, members []string, realNodes map[string]int, setUp func(context.Context, *lab.Lab, *Kubectl) (func(), error)) int {
	opts := lab.Options{Clusters: lab.DefaultClusters()}
	if len(realNodes) > 0 {
		if realPodsSkip = RealPodsUnsupported(); realPodsSkip != nil {
			fmt.Fprintf(os.Stderr, "%s: no lab: every test that needs real pods skips, since %v\n", name, realPodsSkip)
			return m.Run()
		}
		var clusters []lab.ClusterSpec
		for _, c := range opts.Clusters {
			if c.Name == host || slices.Contains(members, c.Name) {
				c.RealNodes = realNodes[c.Name]
				clusters = append(clusters, c)
			}
		}
		opts.Clusters = clusters
		opts.Images = []string{os.Getenv(CoreDNSFedImageEnv)}
	}
	l, err := startLabOptions(name, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	defer func() { StopLab(l, code == 0) }()
	k, err := NewKubectl(l.Kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := k.Federate(ctx, "magicring", "demo.example.com", host, members); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	undo, err := setUp(ctx, l, k)
	if undo != nil {
		defer undo()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "setting up: %v\n", err)
		return 1
	}
	code = m.Run()
	return code
}
