package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
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
	dir := filepath.Join(os.TempDir(), "kfed-lab-subnets")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	prefix, f, err := claimSlash24(dir, 10, 224, 254)
	if err != nil {
		return nil, err
	}
	if f != nil {
		b := prefix.Addr().As4()
		return &subnetClaim{prefix: prefix, bridge: fmt.Sprintf("kfed-%d-%d", b[1], b[2]), file: f}, nil
	}
	return nil, fmt.Errorf("no free real-node subnet in 10.224.0.0-10.254.255.255: every /24 is claimed under %s", dir)
}

func (s *subnetClaim) release() {
	if s == nil || s.file == nil {
		return
	}
	s.file.Close()
	s.file = nil
}
