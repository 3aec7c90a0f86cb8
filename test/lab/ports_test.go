package lab

import (
	"testing"
)

func TestClaimPoolIsExclusive(t *testing.T) {
	seen := map[string]bool{}
	var claims []*poolClaim
	for i := 0; i < 20; i++ {
		c, err := claimPool()
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
		p := c.prefix
		if p.Bits() != 24 || p.Addr().As4()[0] != 127 || p.Addr().As4()[1] < 10 {
			t.Errorf("pool %s is not a /24 in 127.10.0.0-127.250.255.255", p)
		}
		if seen[p.String()] {
			t.Errorf("pool %s claimed twice", p)
		}
		seen[p.String()] = true
	}
	for _, c := range claims {
		c.release()
	}
}

func TestFreePortsDiffer(t *testing.T) {
	ports, err := freePorts(10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Errorf("port %d is invalid or repeated in %v", p, ports)
		}
		seen[p] = true
	}
}
