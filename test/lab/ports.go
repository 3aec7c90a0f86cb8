package lab

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
)

// freePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago. The kernel hands out ephemeral ports in sequence, so a port just
// released is not handed to the next caller, which makes the gap before the
// lab's program binds it safe enough for a lab.
func freePorts(n int) ([]int, error) {
	// Hold every listener until all are chosen, so the n ports differ.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// poolClaim holds one 127.x.y.0/24 load-balancer pool for the life of the lab.
// Labs running side by side, in parallel tests or next to `make lab-up`, claim
// pools through lock files: flock is released by the kernel when the holder
// dies, so a crashed lab never leaves a pool claimed.
type poolClaim struct {
	prefix netip.Prefix
	file   *os.File
}

// poolLockDir is where pool claims live; it is shared by every lab on the
// machine.
func poolLockDir() string {
	return filepath.Join(os.TempDir(), "kfed-lab-pools")
}

// claimPool claims a free /24 in 127.0.0.0/8. It avoids 127.0.0.0/16, where
// other loopback services usually live.
func claimPool() (*poolClaim, error) {
	dir := poolLockDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	prefix, f, err := claimSlash24(dir, 127, 10, 250)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return &poolClaim{prefix: prefix, file: f}, nil
	}
	return nil, fmt.Errorf("no free load-balancer pool in 127.0.0.0/8: every /24 is claimed under %s", dir)
}

// claimSlash24 claims a free a.b.c.0/24, with b from first to last, by
// taking an exclusive lock on its file in dir; it tries every such /24 once,
// from a random one on. The file, held open, is the claim; nil when every
// /24 is claimed.
func claimSlash24(dir string, a byte, first, last int) (netip.Prefix, *os.File, error) {
	span := (last - first + 1) * 256
	start := rand.IntN(span)
	for i := 0; i < span; i++ {
		n := (start + i) % span
		b, c := byte(first+n/256), byte(n%256)
		path := filepath.Join(dir, fmt.Sprintf("%d.%d.%d.lock", a, b, c))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return netip.Prefix{}, nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, 0}), 24), f, nil
	}
	return netip.Prefix{}, nil, nil
}

func (c *poolClaim) release() {
	if c == nil || c.file == nil {
		return
	}
	// The lock file stays: removing it would let two labs lock two different
	// files for the same pool.
	c.file.Close()
	c.file = nil
}
