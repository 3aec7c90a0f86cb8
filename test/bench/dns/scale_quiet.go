package main

import (
	"context"
	"errors"
	"time"
)

// The scale lab runs every member's control plane on this machine: at 20
// members, 20 API servers and etcds share its two cores with coredns-fed
// and the client, and in a real federation none of them runs beside the
// DNS server. Lowered to nice 19 they still took 23% of a core during the
// QPS runs, and the 20 x 2,500 case answered 0.79x the 3 x 1,000 case's
// queries although its lookups cost the same in process. So while a QPS
// run measures lookups, the members' control planes are frozen (SIGSTOP):
// coredns-fed answers from what it holds, as it would while they are slow,
// and nothing else takes the machine. Both the baseline case and the
// largest are measured so; the measures after the QPS runs (probing,
// churn, failover) have the lab running.

// freezeLab freezes every member's control plane and returns what thaws
// them, which waits until every API server is ready again.
func (sl *scaleLab) freezeLab() (thaw func() error, err error) {
	thawAll := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var errs []error
		for _, c := range sl.lab.Clusters {
			errs = append(errs, c.ThawControlPlane(ctx))
		}
		return errors.Join(errs...)
	}
	for _, c := range sl.lab.Clusters {
		if err := c.FreezeControlPlane(); err != nil {
			return nil, errors.Join(err, thawAll())
		}
	}
	return thawAll, nil
}
