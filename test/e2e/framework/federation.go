package framework

import (
	"context"
	"fmt"
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
