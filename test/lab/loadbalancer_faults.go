package lab

// The load balancer's faults, which tests set: an address down, or answers
// delayed.

import (
	"fmt"
	"net/netip"
	"time"
)

// SetDown takes an address down (closes its listeners, so connections are
// refused) or brings it back up. It returns an error naming the address if the
// address is not assigned to any Service. The fault persists until SetDown(addr,false).
//
// The fault is also cleared when the address is released, so that a Service
// that later gets the same address does not inherit it.
func (lb *loadBalancer) SetDown(addr netip.Addr, down bool) error {
	lb.mu.Lock()
	defer lb.mu.Unlock()

	s := lb.serviceWithAddrLocked(addr)
	if s == nil {
		return fmt.Errorf("address %s is not assigned to any Service in cluster %s", addr, lb.cluster)
	}
	if down {
		lb.down[addr] = true
		lb.logf("address %s of %s/%s taken down", addr, s.namespace, s.name)
	} else {
		delete(lb.down, addr)
		lb.logf("address %s of %s/%s brought up", addr, s.namespace, s.name)
	}
	// Applied here rather than through the queue, so that connections are
	// refused (or accepted) as soon as SetDown returns.
	if err := lb.applyLocked(s); err != nil {
		lb.logf("sync %s/%s: %v; retrying", s.namespace, s.name, err)
		lb.queue.AddRateLimited(s.namespace + "/" + s.name)
	}
	return nil
}

// SetDelay makes HTTP answers on a load-balancer address wait d before the
// response is written, for requests from the client address from (the zero
// Addr means every client); d of 0 removes the delay. Connections are still
// accepted at once: the delay is in answering, which an HTTP health probe
// measures. Where the address forwards to real pods, the delay is before a
// connection is forwarded, and before each UDP datagram is. Tests use it to give two probing clients on loopback,
// distinguished by their source addresses, different round-trip times to
// the same address. Delays are not tied to a Service and stay until
// removed.
func (lb *loadBalancer) SetDelay(addr, from netip.Addr, d time.Duration) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	key := [2]netip.Addr{addr, from}
	if d <= 0 {
		delete(lb.delays, key)
		return
	}
	lb.delays[key] = d
}

// delay returns the delay SetDelay set for traffic to addr from the client
// address from.
func (lb *loadBalancer) delay(addr, from netip.Addr) time.Duration {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return lb.delayLocked(addr, from)
}

func (lb *loadBalancer) delayLocked(addr, from netip.Addr) time.Duration {
	if len(lb.delays) == 0 {
		return 0
	}
	if d, ok := lb.delays[[2]netip.Addr{addr, from.Unmap()}]; ok {
		return d
	}
	return lb.delays[[2]netip.Addr{addr, {}}]
}
