package lab

// The load balancer's addresses: which Services get one, picking one from
// the pool, and writing it to (or clearing it from) the Service's status.

import (
	"context"
	"fmt"
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// writeStatus records addr as the only ingress of svc.
func (lb *loadBalancer) writeStatus(ctx context.Context, svc *v1.Service, addr netip.Addr) error {
	if hasOnlyIngress(svc, addr) {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := lb.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// A Service that was replaced or changed type gets its own sync.
		if cur.UID != svc.UID || !isLoadBalancerService(cur) || hasOnlyIngress(cur, addr) {
			return nil
		}
		vip := v1.LoadBalancerIPModeVIP
		cur.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: addr.String(), IPMode: &vip}}
		_, err = lb.client.CoreV1().Services(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		// Its deletion is on the way through the informer.
		return nil
	}
	return err
}

// clearStatus removes from the status of svc, which no longer wants an
// address from this controller, the ingress entries this controller wrote:
// released, if valid, and any address from the pool unless another
// controller owns svc through its load-balancer class.
func (lb *loadBalancer) clearStatus(ctx context.Context, svc *v1.Service, released netip.Addr) error {
	ours := func(s *v1.Service, addr netip.Addr) bool {
		return addr == released || s.Spec.LoadBalancerClass == nil && lb.pool.Contains(addr)
	}
	if !slices.ContainsFunc(ingressAddrs(svc), func(a netip.Addr) bool { return ours(svc, a) }) {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := lb.client.CoreV1().Services(svc.Namespace).Get(ctx, svc.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != svc.UID || isLoadBalancerService(cur) {
			return nil
		}
		kept := slices.DeleteFunc(slices.Clone(cur.Status.LoadBalancer.Ingress), func(ing v1.LoadBalancerIngress) bool {
			addr, err := netip.ParseAddr(ing.IP)
			return err == nil && ours(cur, addr)
		})
		if len(kept) == len(cur.Status.LoadBalancer.Ingress) {
			return nil
		}
		cur.Status.LoadBalancer.Ingress = kept
		_, err = lb.client.CoreV1().Services(cur.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// isLoadBalancerService reports whether svc is this controller's to serve:
// type LoadBalancer without a class, which would name another implementation.
func isLoadBalancerService(svc *v1.Service) bool {
	return svc.Spec.Type == v1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

// ingressAddrs returns the valid IP addresses in the status of svc.
func ingressAddrs(svc *v1.Service) []netip.Addr {
	var addrs []netip.Addr
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if addr, err := netip.ParseAddr(ing.IP); err == nil {
			addrs = append(addrs, addr)
		}
	}
	return addrs
}

func hasOnlyIngress(svc *v1.Service, addr netip.Addr) bool {
	ing := svc.Status.LoadBalancer.Ingress
	return len(ing) == 1 && ing[0].IP == addr.String() && ing[0].Hostname == ""
}

// pickPoolAddress chooses an address from pool, a /24 inside 127.0.0.0/8 or,
// for a cluster with real nodes, inside their range (claimRealPool).
// The first of current (the addresses in the Service's status) that lies in
// the pool and is not taken by another Service is kept, so that addresses
// survive a controller restart. Otherwise it is the lowest address that is
// neither taken nor claimed (in the status of a Service not yet synced).
// The network and broadcast addresses, .0 and .255, are never picked.
func pickPoolAddress(pool netip.Prefix, current []netip.Addr, taken, claimed map[netip.Addr]bool) (netip.Addr, error) {
	if !pool.Addr().Is4() || pool.Bits() != 24 || !loopbackNet.Contains(pool.Addr()) && !inRealRange(pool.Addr()) {
		return netip.Addr{}, fmt.Errorf("address pool %s is not a /24 inside %s or %s", pool, loopbackNet, realRange)
	}
	pool = pool.Masked()
	usable := func(addr netip.Addr) bool {
		if !pool.Contains(addr) || taken[addr] {
			return false
		}
		last := addr.As4()[3]
		return last != 0 && last != 255
	}

	for _, addr := range current {
		if usable(addr) {
			return addr, nil
		}
	}
	for addr := pool.Addr(); pool.Contains(addr); addr = addr.Next() {
		if usable(addr) && !claimed[addr] {
			return addr, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("address pool %s is exhausted", pool)
}
