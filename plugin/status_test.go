package plugin

import (
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
)

var statusNow = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

// serial is the SOA serial of the fixtures' federation.
const serial = 1777000000

func statusMember(name string, ready bool, reason string, tokens map[string]store.TokenInfo) MemberStatus {
	h := member.Health{Ready: ready, Reason: reason, Latency: 1340 * time.Microsecond}
	if ready {
		h.Version = "v1.35.4"
	} else {
		h.Message = "Get \"https://127.0.0.1:6443/version\":\n dial tcp 127.0.0.1:6443: connect: connection refused"
	}
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.ClusterSpec{Server: "https://127.0.0.1:6443"}}
	m := newMemberStatus(clusterRow{cluster: c, health: h, tokens: tokens}, membership.Identities())
	m.Drifted = []string{}
	return m
}

func boundTokens(left time.Duration) map[string]store.TokenInfo {
	life := 30 * 24 * time.Hour
	info := store.TokenInfo{IssuedAt: statusNow.Add(left - life), Expires: statusNow.Add(left)}
	return map[string]store.TokenInfo{v1alpha1.IdentityManager: info, v1alpha1.IdentityDNSReader: info}
}

func healthyStatus() *FederationStatus {
	soa := "ns1.demo.example.com. hostmaster.demo.example.com. 1777000000 7200 1800 86400 5"
	return &FederationStatus{
		Federation: "magicring", Domain: "demo.example.com",
		Members: []MemberStatus{
			statusMember("eur", true, v1alpha1.ReasonProbeSucceeded, boundTokens(20*24*time.Hour)),
			statusMember("usa", true, v1alpha1.ReasonProbeSucceeded, boundTokens(25*24*time.Hour)),
		},
		Servers: []ServerStatus{
			{Address: "10.224.0.1:53", Cluster: "usa", Host: true, Answering: true, Synced: true, Serial: serial, SOA: soa,
				Pods: []PodSync{podSync("coredns-fed-a", time.Second, "eur"), podSync("coredns-fed-b", 2*time.Second, "host")}},
			{Address: "10.224.1.1:53", Cluster: "eur", Answering: true, Synced: true, Serial: serial, SOA: soa,
				Pods: []PodSync{podSync("coredns-fed-c", time.Second, "usa")}},
		},
	}
}

// podSync is a pod that last synced with oldest ago ago.
func podSync(name string, ago time.Duration, oldest string) PodSync {
	t := metav1.NewTime(statusNow.Add(-ago))
	return PodSync{Name: name, LastSync: &t, Oldest: oldest}
}

func TestStatusHealthy(t *testing.T) {
	st := healthyStatus()
	st.Members[0].Placed, st.Members[1].Placed = 3, 3
	st.Problems = evaluate(st, serial, statusNow, 24*time.Hour, time.Minute)
	if len(st.Problems) != 0 {
		t.Fatalf("problems in a healthy federation: %+v", st.Problems)
	}
	for _, s := range st.Servers {
		if !s.Agrees || s.Stale {
			t.Errorf("server %s: agrees %v, stale %v", s.Address, s.Agrees, s.Stale)
		}
	}
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	if err := printStatus(streams.Out, st, statusNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-healthy.golden", out.Bytes())
}

func TestStatusNeedsAction(t *testing.T) {
	st := healthyStatus()
	legacy := map[string]store.TokenInfo{v1alpha1.IdentityManager: {}, v1alpha1.IdentityDNSReader: {}}
	st.Members = append(st.Members,
		statusMember("jpn", false, v1alpha1.ReasonUnreachable, boundTokens(time.Hour)),
		statusMember("bra", true, v1alpha1.ReasonProbeSucceeded, legacy),
		statusMember("ind", false, v1alpha1.ReasonUnauthorized, boundTokens(-2*time.Hour)),
	)
	st.Members[0].Placed, st.Members[0].Drifted = 4, []string{"default/deployment.apps/web"}
	st.Members[2].Placed, st.Members[2].Drifted = 2, nil
	st.Members[2].Pending = []string{"default/configmap/a", "default/configmap/b", "default/configmap/c", "default/service/web"}
	st.Servers[1].Serial = serial - 5
	st.Servers[1].SOA = strings.Replace(st.Servers[1].SOA, "1777000000", "1776999995", 1)
	st.Servers = append(st.Servers,
		ServerStatus{Address: "10.224.2.1:53", Cluster: "ind", Error: "nothing answers DNS at 10.224.2.1:53 (connection refused) when asked for the SOA of demo.example.com.: is coredns-fed running there?"},
		ServerStatus{Address: "192.0.2.53:53", Answering: true, Error: "answers SERVFAIL for the SOA of demo.example.com.: it has not synced with the host and members yet, or cannot read them"},
		ServerStatus{Address: "192.0.2.54:53", Answering: true, Synced: true, Serial: serial, SOA: "ns9.demo.example.com. hostmaster.demo.example.com. 1777000000 7200 1800 86400 5"},
		ServerStatus{Cluster: "bra", Error: "the Service kfed-system/coredns-fed has no load-balancer address"},
	)
	// eur's second pod has not heard from jpn for five minutes; usa's
	// pods cannot be read.
	st.Servers[1].Pods = append(st.Servers[1].Pods, podSync("coredns-fed-d", 5*time.Minute, "jpn"))
	st.Servers[0].Pods, st.Servers[0].SyncError = nil, "pods is forbidden: User \"alice\" cannot list resource \"pods\" in API group \"\" in the namespace \"kfed-system\""
	sort.Slice(st.Members, func(i, j int) bool { return st.Members[i].Name < st.Members[j].Name })
	st.Problems = evaluate(st, serial, statusNow, 24*time.Hour, time.Minute)

	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	if err := printStatus(streams.Out, st, statusNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-needs-action.golden", out.Bytes())

	// Every problem names a command to run.
	for _, p := range st.Problems {
		if !strings.Contains(p.Fix, "kubectl ") {
			t.Errorf("%s: %s: the fix %q names no command", p.Subject, p.Message, p.Fix)
		}
	}
	// ind's expired token is not said twice: its refusal says rotate.
	rotates := 0
	for _, p := range st.Problems {
		if p.Subject == "member ind" && strings.HasPrefix(p.Fix, "kubectl fed rotate") {
			rotates++
		}
	}
	if rotates != 1 {
		t.Errorf("member ind is told to rotate %d times, want once", rotates)
	}
}

func TestStatusJSON(t *testing.T) {
	st := healthyStatus()
	st.Problems = evaluate(st, serial, statusNow, 24*time.Hour, time.Minute)
	streams, _, out, _ := genericiooptions.NewTestIOStreams()
	o := &StatusOptions{Output: "json", IOStreams: streams}
	if err := o.print(st, statusNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "status-healthy-json.golden", out.Bytes())
}

func TestStatusTokenProblem(t *testing.T) {
	tests := []struct {
		name string
		left time.Duration
		warn time.Duration
		want string
	}{
		{"far", 20 * 24 * time.Hour, 24 * time.Hour, ""},
		{"within the warning", 3 * time.Hour, 24 * time.Hour, "expire in 3h and were not refreshed"},
		// Past a third of its lifetime: the refresh every command makes
		// failed.
		{"refresh due", 9 * 24 * time.Hour, time.Hour, "expire in 9d and were not refreshed"},
		{"expired", -time.Minute, 24 * time.Hour, "tokens expired 60s ago"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tokenProblem(boundTokens(tc.left), statusNow, tc.warn)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("tokenProblem = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatusCountObjects(t *testing.T) {
	entry := func(name string, deleting bool, results ...v1alpha1.ClusterResult) *inventory.Entry {
		tmpl := &unstructured.Unstructured{}
		tmpl.SetAPIVersion("v1")
		tmpl.SetKind("ConfigMap")
		tmpl.SetNamespace("default")
		tmpl.SetName(name)
		rec := &v1alpha1.FederatedObject{Spec: v1alpha1.FederatedObjectSpec{Deleting: deleting,
			Resource: v1alpha1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: name}}}
		rec.Status.Clusters = results
		return &inventory.Entry{Template: tmpl, Record: rec}
	}
	res := func(cluster, action string) v1alpha1.ClusterResult {
		return v1alpha1.ClusterResult{Name: cluster, Action: action}
	}
	entries := []*inventory.Entry{
		entry("a", false, res("eur", v1alpha1.ActionCreated), res("usa", v1alpha1.ActionUnchanged)),
		entry("b", false, res("eur", v1alpha1.ActionPending), res("usa", v1alpha1.ActionConfigured)),
		entry("c", true, res("eur", v1alpha1.ActionPendingDeletion), res("usa", v1alpha1.ActionDeleted)),
		entry("d", false, res("eur", v1alpha1.ActionFailed)),
	}
	key := func(i int) inventory.Key { return entries[i].Key() }
	// a is planned in jpn too, which joined after it was applied.
	plans := []*distribute.Plan{{Key: key(0), Objects: map[string]*unstructured.Unstructured{"eur": nil, "usa": nil, "jpn": nil}}}
	diffs := []distribute.Difference{
		{Cluster: "usa", Key: key(0), Object: key(0).String(), State: distribute.StateChanged},
		{Cluster: "usa", Key: key(1), Object: key(1).String(), State: distribute.StateMissing},
		{Cluster: "eur", Key: key(3), Object: key(3).String(), State: distribute.StateMissing},
		{Cluster: "eur", Key: key(0), Object: key(0).String(), State: distribute.StateError, Message: "the server\n was slow"},
	}
	counts := countObjects(entries, plans, recordedResults(entries), diffs, []string{"eur", "usa"})
	type want struct {
		placed           int
		pending, drifted []string
		errors           int
	}
	for cluster, w := range map[string]want{
		"eur": {1, []string{"default/configmap/b", "default/configmap/c", "default/configmap/d"}, []string{}, 1},
		"usa": {2, []string{}, []string{"default/configmap/a", "default/configmap/b"}, 0},
		"jpn": {0, []string{"default/configmap/a"}, nil, 0},
	} {
		c := counts[cluster]
		if c == nil {
			t.Fatalf("%s: not counted", cluster)
		}
		got := want{placed: c.placed, pending: sortedSet(c.pending), errors: len(c.errors)}
		if c.drifted != nil {
			got.drifted = sortedSet(c.drifted)
		}
		if strings.Join(got.pending, ",") != strings.Join(w.pending, ",") || got.placed != w.placed ||
			strings.Join(got.drifted, ",") != strings.Join(w.drifted, ",") || (got.drifted == nil) != (w.drifted == nil) || got.errors != w.errors {
			t.Errorf("%s: got %+v, want %+v", cluster, got, w)
		}
	}
}

func TestStatusValidate(t *testing.T) {
	o := NewStatusOptions(nil, genericiooptions.NewTestIOStreamsDiscard())
	o.Output = "wide"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "json,yaml") {
		t.Errorf("-o wide: %v, want a refusal naming json and yaml", err)
	}
	o.Output = "yaml"
	if err := o.Validate(); err != nil {
		t.Errorf("-o yaml: %v", err)
	}
}

func TestLastSyncOf(t *testing.T) {
	body := []byte(`# HELP coredns_fed_host_last_sync_timestamp_seconds When the host was last known current.
# TYPE coredns_fed_host_last_sync_timestamp_seconds gauge
coredns_fed_host_last_sync_timestamp_seconds{server="dns://:53"} 1.7779e+09
# TYPE coredns_fed_member_last_sync_timestamp_seconds gauge
coredns_fed_member_last_sync_timestamp_seconds{cluster="eur",server="dns://:53"} 1.7779e+09
coredns_fed_member_last_sync_timestamp_seconds{cluster="jpn",server="dns://:53"} 1.7778997e+09
`)
	var ps PodSync
	if err := lastSyncOf(body, &ps); err != nil {
		t.Fatal(err)
	}
	if want := time.Unix(1777899700, 0); ps.Oldest != "jpn" || !ps.LastSync.Time.Equal(want) {
		t.Errorf("last sync %v of %q, want %v of jpn", ps.LastSync, ps.Oldest, want)
	}
	err := lastSyncOf([]byte("# TYPE coredns_build_info gauge\ncoredns_build_info{version=\"1.14.7\"} 1\n"), &PodSync{})
	if err == nil || !strings.Contains(err.Error(), "no coredns_fed_host_last_sync_timestamp_seconds") {
		t.Errorf("metrics without the gauges: %v", err)
	}
}
