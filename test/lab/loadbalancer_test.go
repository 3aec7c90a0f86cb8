package lab

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPickPoolAddress(t *testing.T) {
	pool := netip.MustParsePrefix("127.0.3.0/24")
	addr := netip.MustParseAddr
	set := func(addrs ...string) map[netip.Addr]bool {
		m := map[netip.Addr]bool{}
		for _, a := range addrs {
			m[addr(a)] = true
		}
		return m
	}
	// all returns every address of pool from .0 to .255.
	all := func() map[netip.Addr]bool {
		m := map[netip.Addr]bool{}
		for a := pool.Addr(); pool.Contains(a); a = a.Next() {
			m[a] = true
		}
		return m
	}
	allBut := func(keep string) map[netip.Addr]bool {
		m := all()
		delete(m, addr(keep))
		return m
	}

	tests := []struct {
		name    string
		pool    netip.Prefix
		current []netip.Addr
		taken   map[netip.Addr]bool
		claimed map[netip.Addr]bool
		want    string
		wantErr string
	}{
		{
			name: "empty pool gives .1",
			pool: pool,
			want: "127.0.3.1",
		},
		{
			name:  "lowest free",
			pool:  pool,
			taken: set("127.0.3.1", "127.0.3.2", "127.0.3.4"),
			want:  "127.0.3.3",
		},
		{
			name:    "claimed by another status is skipped",
			pool:    pool,
			taken:   set("127.0.3.1"),
			claimed: set("127.0.3.2"),
			want:    "127.0.3.3",
		},
		{
			name:    "existing address kept",
			pool:    pool,
			current: []netip.Addr{addr("127.0.3.77")},
			taken:   set("127.0.3.1"),
			want:    "127.0.3.77",
		},
		{
			name:    "existing address kept even if claimed",
			pool:    pool,
			current: []netip.Addr{addr("127.0.3.9")},
			claimed: set("127.0.3.9"),
			want:    "127.0.3.9",
		},
		{
			name:    "existing address taken by another Service",
			pool:    pool,
			current: []netip.Addr{addr("127.0.3.9")},
			taken:   set("127.0.3.9"),
			want:    "127.0.3.1",
		},
		{
			name:    "existing address outside the pool",
			pool:    pool,
			current: []netip.Addr{addr("127.0.4.9"), addr("10.0.0.1"), addr("::1")},
			want:    "127.0.3.1",
		},
		{
			name:    "first usable existing address wins",
			pool:    pool,
			current: []netip.Addr{addr("127.0.4.9"), addr("127.0.3.20"), addr("127.0.3.10")},
			want:    "127.0.3.20",
		},
		{
			name:    "existing network address not kept",
			pool:    pool,
			current: []netip.Addr{addr("127.0.3.0")},
			want:    "127.0.3.1",
		},
		{
			name:    "existing broadcast address not kept",
			pool:    pool,
			current: []netip.Addr{addr("127.0.3.255")},
			want:    "127.0.3.1",
		},
		{
			name:  "last usable is .254",
			pool:  pool,
			taken: allBut("127.0.3.254"),
			want:  "127.0.3.254",
		},
		{
			name:    "broadcast never handed out",
			pool:    pool,
			taken:   allBut("127.0.3.255"),
			wantErr: "exhausted",
		},
		{
			name:    "exhausted by claims",
			pool:    pool,
			claimed: all(),
			wantErr: "exhausted",
		},
		{
			name: "pool with host bits set",
			pool: netip.MustParsePrefix("127.0.3.9/24"),
			want: "127.0.3.1",
		},
		{
			name:    "pool outside loopback",
			pool:    netip.MustParsePrefix("10.0.3.0/24"),
			wantErr: "not a /24 inside 127.0.0.0/8",
		},
		{
			name:    "pool not a /24",
			pool:    netip.MustParsePrefix("127.0.0.0/16"),
			wantErr: "not a /24 inside 127.0.0.0/8",
		},
		{
			name:    "IPv6 pool",
			pool:    netip.MustParsePrefix("::1/128"),
			wantErr: "not a /24 inside 127.0.0.0/8",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pickPoolAddress(tt.pool, tt.current, tt.taken, tt.claimed)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("pickPoolAddress() = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("pickPoolAddress() error: %v", err)
			}
			if got != addr(tt.want) {
				t.Errorf("pickPoolAddress() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestResponseBody(t *testing.T) {
	tests := []struct {
		name                             string
		cluster, namespace, service, pod string
		want                             string
	}{
		{
			name:      "with pod",
			cluster:   "east",
			namespace: "default",
			service:   "web",
			pod:       "web-5d8f7-abcde",
			want:      "cluster: east\nnamespace: default\nservice: web\npod: web-5d8f7-abcde\n",
		},
		{
			name:      "endpoint without pod",
			cluster:   "west",
			namespace: "kube-system",
			service:   "dns",
			want:      "cluster: west\nnamespace: kube-system\nservice: dns\npod: \n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := responseBody(tt.cluster, tt.namespace, tt.service, tt.pod); got != tt.want {
				t.Errorf("responseBody() = %q, want %q", got, tt.want)
			}
		})
	}
}
