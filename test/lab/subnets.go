package lab

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
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
	const first, last = 224, 254 // second octet
	span := (last - first + 1) * 256
	start := rand.IntN(span)
	for i := 0; i < span; i++ {
		n := (start + i) % span
		b1, b2 := byte(first+n/256), byte(n%256)
		path := filepath.Join(dir, fmt.Sprintf("10.%d.%d.lock", b1, b2))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return &subnetClaim{
			prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, b1, b2, 0}), 24),
			bridge: fmt.Sprintf("kfed-%d-%d", b1, b2),
			file:   f,
		}, nil
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
