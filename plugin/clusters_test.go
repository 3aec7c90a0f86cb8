package plugin

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/store"
)

func fixtureRows(now time.Time) []clusterRow {
	n := func(i int32) *int32 { return &i }
	cluster := func(name, region, zone string, age time.Duration, labels map[string]string) *v1alpha1.Cluster {
		return &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, CreationTimestamp: metav1.NewTime(now.Add(-age))},
			Spec: v1alpha1.ClusterSpec{
				Federation: "magicring", Region: region, Zone: zone,
				Server:   "https://" + name + ".example.com:6443",
				Location: &v1alpha1.Location{Latitude: "53.35", Longitude: "-6.26"},
			},
		}
	}
	bound := func(issued, life time.Duration) store.TokenInfo {
		return store.TokenInfo{IssuedAt: now.Add(-issued), Expires: now.Add(-issued + life)}
	}
	month := 30 * 24 * time.Hour
	return []clusterRow{
		{cluster("usa", "us-east-1", "us-east-1a", 49*time.Hour, nil),
			member.Health{Ready: true, Reason: v1alpha1.ReasonProbeSucceeded, Version: "v1.35.4", Nodes: n(3), Latency: 1340 * time.Microsecond},
			map[string]store.TokenInfo{v1alpha1.IdentityManager: bound(49*time.Hour, month), v1alpha1.IdentityDNSReader: bound(time.Hour, month)}},
		{cluster("jpn", "ap-northeast-1", "ap-northeast-1a", 3*time.Minute, map[string]string{"tier": "edge"}),
			member.Health{Reason: v1alpha1.ReasonTimeout, Message: "no answer within 5s:\n  context deadline exceeded"},
			map[string]store.TokenInfo{v1alpha1.IdentityManager: {}, v1alpha1.IdentityDNSReader: bound(time.Hour, month)}},
		{cluster("eur", "eu-west-1", "eu-west-1a", 90*time.Second, nil),
			member.Health{Reason: v1alpha1.ReasonUnauthorized, Message: "manager identity: Unauthorized", Version: "", Latency: 0},
			map[string]store.TokenInfo{v1alpha1.IdentityManager: bound(month+time.Hour, month)}},
		{cluster("bra", "", "", 10*24*time.Hour, nil),
			member.Health{Ready: true, Reason: v1alpha1.ReasonProbeSucceeded, Version: "v1.34.1", Nodes: n(120), Latency: 187 * time.Millisecond},
			map[string]store.TokenInfo{v1alpha1.IdentityManager: bound(25*24*time.Hour, month), v1alpha1.IdentityDNSReader: bound(10*24*time.Hour, month)}},
	}
}

func TestPrintClusterTable(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		wide bool
	}{{"table.txt", false}, {"wide.txt", true}} {
		t.Run(tc.name, func(t *testing.T) {
			streams, _, out, _ := genericiooptions.NewTestIOStreams()
			if err := printClusterTable(streams.Out, fixtureRows(now), tc.wide, now); err != nil {
				t.Fatal(err)
			}
			golden(t, "clusters/"+tc.name, out.Bytes())
		})
	}
}

func TestFormatLatency(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                          "<unknown>",
		700 * time.Microsecond:     "0.7ms",
		5740 * time.Microsecond:    "5.7ms",
		12400 * time.Microsecond:   "12ms",
		1234567 * time.Microsecond: "1.23s",
	} {
		if got := formatLatency(d); got != want {
			t.Errorf("formatLatency(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestRotateHint(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	streams, _, _, errOut := genericiooptions.NewTestIOStreams()
	printRotateHint(streams.ErrOut, fixtureRows(now), now)
	// jpn's manager token never expires, eur's has expired, bra's manager
	// token has 5 of 30 days left; usa's are fresh.
	want := "Tokens of bra, eur, jpn never expire, have expired or are due for a refresh: replace them with kubectl fed rotate bra eur jpn\n"
	if got := errOut.String(); got != want {
		t.Errorf("hint = %q, want %q", got, want)
	}
}
