package dnsserver

import (
	"slices"
	"testing"
	"time"
)

func TestLatencyTable(t *testing.T) {
	table := &LatencyTable{}
	for _, e := range []struct {
		from, to string
		d        time.Duration
	}{
		// Deliberately not geography: Tokyo is routed to usa.
		{"ap-northeast-1", "us-east-1", 10 * time.Millisecond},
		{"ap-northeast-1", "ap-northeast-1", 50 * time.Millisecond},
		{"ap-northeast-1", "eu-west-1", 200 * time.Millisecond},
		{"eu-west-1", "us-east-1", 70 * time.Millisecond},
	} {
		if err := table.Set(e.from, e.to, e.d); err != nil {
			t.Fatal(err)
		}
	}
	if err := table.Set("atlantis-1", "eu-west-1", time.Millisecond); err == nil {
		t.Error("a region of unknown place was accepted")
	}
	f := geoFed(t, PolicyLatency, Selection{})
	f.Policy.Latency = table
	f.Policy.RTT.Store(map[string]time.Duration{"jpn": time.Millisecond})
	for _, tc := range []struct {
		subnet string
		want   []string
	}{
		{"192.0.2.0/24", []string{"usa"}},
		// Dublin is in eu-west-1: its own region costs 0, usa 70 ms.
		{"198.51.100.0/24", []string{"eur"}},
		// Virginia's nearest table region is eu-west-1 too.
		{"203.0.113.0/24", []string{"eur"}},
		// No location: this server's round trips.
		{"", []string{"jpn"}},
	} {
		if got, _ := ask(t, f, tc.subnet); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.subnet, got, tc.want)
		}
	}
	f.Policy.Nearest = 3
	if got, _ := ask(t, f, "192.0.2.0/24"); !slices.Equal(got, []string{"usa", "jpn", "eur"}) {
		t.Errorf("Tokyo, nearest 3: %v", got)
	}
}
