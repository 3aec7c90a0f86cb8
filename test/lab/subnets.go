package lab

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
)

// subnetClaim holds one /24 of 10.224.0.0-10.254.255.255 for a real node's
// bridge, for the life of the lab. The range is clear of the lab clusters'
// Service ranges (10.96/16 on) and kwok's pod ranges (10.160/16 on). Labs
// side by side claim subnets through lock files, as they claim load-balancer
// pools, and the bridge is named after its subnet, so no two labs pick the
// same bridge.
type subnetClaim struct {
	prefix netip.Prefix
	bridge string
	file   *os.File
}

// gateway is the first address of the subnet: the bridge's own address and
// the node's InternalIP.
func (s *subnetClaim) gateway() netip.Addr { return s.prefix.Addr().Next() }

func claimSubnet() (*subnetClaim, error) {
	prefix, f, err := claimReal24("real-node subnet")
	if err != nil {
		return nil, err
	}
	b := prefix.Addr().As4()
	return &subnetClaim{prefix: prefix, bridge: fmt.Sprintf("kfed-%d-%d", b[1], b[2]), file: f}, nil
}

// claimRealPool claims the load-balancer pool of a cluster with real nodes.
// Its pods cannot use a pool on 127/8, which in a pod's network namespace is
// the pod's own loopback: they would reach themselves instead of the load
// balancer when they probe another cluster's entry point. So the pool is a
// /24 of the real nodes' range, claimed like their subnets, which the
// machine takes as its own addresses through a local route (see
// addLocalRoute): the load balancer binds any address of it, and pods reach
// it through their bridge.
func claimRealPool() (*poolClaim, error) {
	prefix, f, err := claimReal24("load-balancer pool")
	if err != nil {
		return nil, err
	}
	return &poolClaim{prefix: prefix, file: f}, nil
}

// realRange names the range of real nodes' subnets and pools.
const realRange = "10.224.0.0-10.254.255.255"

// inRealRange reports whether addr lies in realRange.
func inRealRange(addr netip.Addr) bool {
	if !addr.Is4() {
		return false
	}
	b := addr.As4()
	return b[0] == 10 && b[1] >= 224 && b[1] <= 254
}

// claimReal24 claims a free /24 of 10.224.0.0-10.254.255.255 for what.
func claimReal24(what string) (netip.Prefix, *os.File, error) {
	dir := sharedDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return netip.Prefix{}, nil, err
	}
	prefix, f, err := claimSlash24(dir, 10, 224, 254)
	if err != nil {
		return netip.Prefix{}, nil, err
	}
	if f == nil {
		return netip.Prefix{}, nil, fmt.Errorf("no free %s in %s: every /24 is claimed under %s", what, realRange, dir)
	}
	return prefix, f, nil
}

// addLocalRoute makes every address of prefix one of the machine's own, as
// every address of 127/8 is: a route of type local in the local table,
// through lo. Nothing outside the machine learns of it.
func addLocalRoute(prefix netip.Prefix) error {
	return ip("route", "add", "local", prefix.String(), "dev", "lo", "table", "local")
}

// localRouteExists reports whether addLocalRoute's route for prefix is in
// place.
func localRouteExists(prefix netip.Prefix) bool {
	out, err := exec.Command("ip", "route", "show", "table", "local", "type", "local", prefix.String()).Output()
	return err == nil && strings.TrimSpace(string(out)) != ""
}

// delLocalRoute removes what addLocalRoute added.
func delLocalRoute(prefix netip.Prefix) error {
	return ip("route", "del", "local", prefix.String(), "dev", "lo", "table", "local")
}

func (s *subnetClaim) release() {
	if s == nil || s.file == nil {
		return
	}
	s.file.Close()
	s.file = nil
}
