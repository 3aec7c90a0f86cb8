package distribute

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
)

func record(clusters map[string]string) *v1alpha1.FederatedObject {
	rec := &v1alpha1.FederatedObject{}
	for name, action := range clusters {
		rec.Status.Clusters = append(rec.Status.Clusters, v1alpha1.ClusterResult{Name: name, Action: action})
	}
	return rec
}

func res(cluster, action string, presence Presence) Result {
	return Result{Cluster: cluster, Action: action, Presence: presence}
}

func TestDecide(t *testing.T) {
	const (
		created   = v1alpha1.ActionCreated
		unchanged = v1alpha1.ActionUnchanged
		failed    = v1alpha1.ActionFailed
		deleted   = v1alpha1.ActionDeleted
	)
	placedEverywhere := record(map[string]string{"eur": created, "usa": created})
	for _, tc := range []struct {
		name       string
		prev       *v1alpha1.FederatedObject
		journalled bool
		sameSet    bool
		applied    []Result
		removed    []Result
		want       verdict
	}{
		{name: "new, written",
			journalled: true, applied: []Result{res("eur", created, PresenceHeld), res("usa", created, PresenceHeld)}, want: saveRun},
		{name: "new, an invalid name refused everywhere",
			journalled: true, applied: []Result{res("eur", failed, PresenceAbsent), res("usa", failed, PresenceAbsent)}, want: forget},
		{name: "an old record of an object refused everywhere",
			prev: record(map[string]string{"eur": failed, "usa": failed}), applied: []Result{res("eur", failed, PresenceAbsent), res("usa", failed, PresenceAbsent)}, want: forget},
		{name: "new, refused in one member, written in the other",
			journalled: true, applied: []Result{res("eur", failed, PresenceAbsent), res("usa", created, PresenceHeld)}, want: saveRun},
		{name: "new, one member hung after it was sent",
			journalled: true, applied: []Result{res("eur", failed, PresenceAbsent), res("usa", failed, PresenceMaybe)}, want: saveRun},
		{name: "new, one member not ready",
			journalled: true, applied: []Result{res("eur", failed, PresenceAbsent), res("usa", failed, PresenceUnknown)}, want: saveRun},
		{name: "new content refused everywhere: the old stays",
			prev: placedEverywhere, journalled: true, applied: []Result{res("eur", failed, PresenceHeld), res("usa", failed, PresenceHeld)}, want: restorePrevious},
		{name: "same content refused everywhere, nothing journalled",
			prev: placedEverywhere, applied: []Result{res("eur", failed, PresenceHeld), res("usa", failed, PresenceHeld)}, want: keepRecord},
		{name: "re-applied unchanged",
			prev: placedEverywhere, sameSet: true, applied: []Result{res("eur", unchanged, PresenceHeld), res("usa", unchanged, PresenceHeld)}, want: keepRecord},
		{name: "re-applied unchanged into another apply set",
			prev: placedEverywhere, applied: []Result{res("eur", unchanged, PresenceHeld), res("usa", unchanged, PresenceHeld)}, want: saveRun},
		{name: "unchanged in one member, removed from the other",
			prev: placedEverywhere, sameSet: true, applied: []Result{res("usa", unchanged, PresenceHeld)}, removed: []Result{res("eur", deleted, PresenceAbsent)}, want: saveRun},
		{name: "refused where it stays, removed where it goes",
			prev: placedEverywhere, applied: []Result{res("usa", failed, PresenceAbsent)}, removed: []Result{res("eur", deleted, PresenceAbsent)}, want: forget},
		{name: "refused where it stays, still held where it goes",
			prev: placedEverywhere, applied: []Result{res("usa", failed, PresenceAbsent)}, removed: []Result{res("eur", v1alpha1.ActionPendingDeletion, PresenceUnknown)}, want: restorePrevious},
		{name: "placed nowhere",
			journalled: false, want: saveRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := decide(tc.prev, tc.journalled, tc.sameSet, tc.applied, tc.removed); got != tc.want {
				t.Errorf("decide = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNeedsJournal(t *testing.T) {
	p, err := NewPlan("ring", obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata: {a: b}"), targets(true, true, false))
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := NewPlan("ring", obj(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns}\ndata: {a: changed}"), targets(true, true, false))
	placedIn := func(clusters ...string) *Recorder {
		m := map[string]string{}
		for _, c := range clusters {
			m[c] = v1alpha1.ActionCreated
		}
		prev := map[inventory.Key]*inventory.Entry{p.Key: {Record: record(m), Template: p.Template}}
		return &Recorder{prev: prev}
	}
	if !(&Recorder{}).needsJournal(p) {
		t.Error("a new object is not journalled")
	}
	if placedIn("eur", "jpn").needsJournal(p) {
		t.Error("an object recorded in the members it goes to is journalled again")
	}
	if !placedIn("eur").needsJournal(p) {
		t.Error("an object going to a member it is not recorded in is not journalled")
	}
	if !placedIn("eur", "jpn").needsJournal(p2) {
		t.Error("new content is not journalled")
	}
}

// TestJournalHostSilent: a host that stops answering fails the journal
// after one request timeout, without a request per object, and says that
// nothing was written.
func TestJournalHostSilent(t *testing.T) {
	const objects, timeout, workers = 200, 300 * time.Millisecond, 8
	url, writes := hangingServer(t)
	s, err := store.New(&rest.Config{Host: url, Timeout: timeout, QPS: 1000, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New(s, "ring")
	if err != nil {
		t.Fatal(err)
	}
	tgt := targets(true)
	var plans []*Plan
	for i := range objects {
		p, err := NewPlan("ring", obj(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%03d, namespace: default}", i)), tgt)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	rec := NewRecorder(t.Context(), inv, nil, nil, workers)
	begin := time.Now()
	err = rec.Journal(plans)
	if took := time.Since(begin); took > 3*timeout {
		t.Errorf("Journal took %s with a %s request timeout", took, timeout)
	}
	if err == nil || !strings.Contains(err.Error(), "the host stopped answering") || !strings.Contains(err.Error(), "nothing was written to any member") {
		t.Errorf("Journal: %v", err)
	}
	if n := writes.Load(); n > 2*workers {
		t.Errorf("%d records sent to a silent host, want at most about %d", n, workers)
	}
}
