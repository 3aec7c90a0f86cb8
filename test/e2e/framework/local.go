package framework

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// LocalAddr returns nil when packets to addr never leave the machine: addr
// is on loopback, or the kernel routes it as one of the machine's own
// addresses (a route of type local, as the lab's load-balancer pools for
// real nodes have). Otherwise it says where addr goes, so that a test that
// must stay on the machine refuses to send there.
func LocalAddr(addr netip.Addr) error {
	if addr.IsLoopback() {
		return nil
	}
	out, err := exec.Command("ip", "-o", "route", "get", addr.String()).Output()
	if err != nil {
		return fmt.Errorf("asking the kernel how it routes %s (ip route get, from iproute2): %w", addr, err)
	}
	if route := strings.TrimSpace(string(out)); !strings.HasPrefix(route, "local ") {
		return fmt.Errorf("%s is neither on loopback nor one of the machine's own addresses: the kernel routes it %q", addr, route)
	}
	return nil
}
