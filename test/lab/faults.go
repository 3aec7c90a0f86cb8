package lab

import (
	"context"
	"fmt"
	"net/netip"
	"time"
)

// Faults a test or `kfed-lab` injects into a running cluster: its control
// plane stopped or hung, a load-balancer address down or slow.

// StopAPIServer stops the cluster's API server: a cluster outage. Everything
// else keeps running, as it would when a control plane fails: the load
// balancer keeps serving what it last knew.
func (c *Cluster) StopAPIServer() error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	return c.apiserver.stop(10 * time.Second)
}

// StartAPIServer starts the API server again, on the same address, and waits
// until it is ready. The controller manager, scheduler and kwok are
// restarted with it: after a long outage their watches back off for up to
// a minute, which would make every test after an outage wait on the lab
// rather than on what it tests.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if c.apiserver.running() {
		if c.apiserver.isFrozen() {
			if err := c.apiserver.thaw(); err != nil {
				return err
			}
		}
		return c.waitFor(ctx, c.apiserver, "API server readiness", c.apiserverReady)
	}
	if err := c.apiserver.start(); err != nil {
		return err
	}
	if err := c.waitFor(ctx, c.apiserver, "API server readiness", c.apiserverReady); err != nil {
		return err
	}
	for _, p := range c.companions() {
		if err := p.stop(10 * time.Second); err != nil {
			return err
		}
		if err := p.start(); err != nil {
			return err
		}
	}
	return nil
}

// FreezeAPIServer stops the API server process with SIGSTOP: a hung
// control plane. Its port still accepts connections, and requests sent on
// them, or on connections clients already hold, get no answer until
// ThawAPIServer. Clients see timeouts, not refusals, which is the case a
// stopped API server does not test.
func (c *Cluster) FreezeAPIServer() error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	return c.apiserver.freeze()
}

// ThawAPIServer continues a frozen API server and waits until it is ready.
// Its watches and leases pick up where they were, so the controller
// manager, scheduler and kwok are left running.
func (c *Cluster) ThawAPIServer(ctx context.Context) error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	if err := c.apiserver.thaw(); err != nil {
		return err
	}
	return c.waitFor(ctx, c.apiserver, "API server readiness", c.apiserverReady)
}

// FreezeControlPlane stops every program of the cluster's control plane
// (etcd, the API server, and the controller manager, scheduler and kwok
// where it runs them) with SIGSTOP, and returns once all their threads
// have stopped. The cluster keeps its state and takes no processor time,
// for a benchmark of something else on the machine; clients' requests
// wait. ThawControlPlane undoes it.
func (c *Cluster) FreezeControlPlane() error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	for _, p := range c.controlPlane() {
		if err := p.freeze(); err != nil {
			return err
		}
	}
	return nil
}

// ThawControlPlane continues every program FreezeControlPlane stopped and
// waits until the API server is ready.
func (c *Cluster) ThawControlPlane(ctx context.Context) error {
	c.apiMu.Lock()
	defer c.apiMu.Unlock()
	for _, p := range c.controlPlane() {
		if p.isFrozen() {
			if err := p.thaw(); err != nil {
				return err
			}
		}
	}
	return c.waitFor(ctx, c.apiserver, "API server readiness", c.apiserverReady)
}

// controlPlane returns the cluster's control-plane programs, its real
// nodes' left out.
func (c *Cluster) controlPlane() []*process {
	return append([]*process{c.etcd, c.apiserver}, c.companions()...)
}

// APIServerFrozen reports whether the API server is frozen.
func (c *Cluster) APIServerFrozen() bool {
	return c.apiserver.isFrozen()
}

// APIServerRunning reports whether the API server process is running.
func (c *Cluster) APIServerRunning() bool {
	return c.apiserver.running()
}

// SetLoadBalancerDown takes one load-balancer address of this cluster down
// (connections to it are refused) or brings it back up: a data-path outage.
func (c *Cluster) SetLoadBalancerDown(addr netip.Addr, down bool) error {
	if c.lb == nil {
		return fmt.Errorf("cluster %s is minimal: it has no load balancer", c.Name)
	}
	return c.lb.SetDown(addr, down)
}

// SetLoadBalancerDelay delays the HTTP answers of one load-balancer address
// of this cluster to the client address from (the zero Addr for every
// client) by d, or removes the delay when d is 0: a slow data path, as
// seen from one client. Where the address forwards to pods on real nodes,
// each new TCP connection and each UDP datagram waits d before it is
// forwarded. See loadBalancer.SetDelay.
func (c *Cluster) SetLoadBalancerDelay(addr, from netip.Addr, d time.Duration) error {
	if c.lb == nil {
		return fmt.Errorf("cluster %s is minimal: it has no load balancer", c.Name)
	}
	c.lb.SetDelay(addr, from, d)
	return nil
}
