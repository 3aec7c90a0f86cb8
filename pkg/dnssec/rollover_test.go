package dnssec

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// A roll publishes the new ZSK, then makes it sign and retires the old
// one, then removes the old one; the set can sign at every step, and its
// phase survives the Secret's JSON.
func TestRoll(t *testing.T) {
	ks := newSet(t)
	old := ks.Signing(RoleZSK)[0].Tag
	timing := Timing{KeyTTL: time.Hour, MaxTTL: 2 * time.Hour, Safety: time.Minute}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := ks.Advance(now, timing); err == nil {
		t.Error("advanced a roll that was not started")
	}
	next, err := NewKey(RoleZSK, dns.ECDSAP256SHA256, StatePublished, now, ks.Tags())
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.StartRoll(next, now, timing); err != nil {
		t.Fatal(err)
	}
	if err := ks.StartRoll(next, now, timing); err == nil {
		t.Error("started a second roll during the first")
	}
	r := ks.Rollover
	if r.Phase != PhasePublished || r.Old != old || r.New != next.Tag || r.Wait.Duration != time.Hour+time.Minute || !r.Due().IsZero() {
		t.Errorf("after publishing: %+v", r)
	}
	if s := ks.Signing(RoleZSK); len(s) != 1 || s[0].Tag != old {
		t.Errorf("the new key signs before it is known everywhere")
	}
	// Through the Secret, as rotate-key resumes it.
	data, _ := ks.Encode()
	ks, err = Decode(data)
	if err != nil || ks.Check() != nil {
		t.Fatalf("decoding the set mid-roll: %v, %v", err, ks.Check())
	}
	ks.Rollover.Seen = now.Add(time.Minute)
	if due := ks.Rollover.Due(); !due.Equal(now.Add(time.Hour + 2*time.Minute)) {
		t.Errorf("due at %s", due)
	}

	done, err := ks.Advance(now.Add(2*time.Hour), timing)
	if err != nil || done {
		t.Fatalf("switching: %v, done %v", err, done)
	}
	if s := ks.Signing(RoleZSK); len(s) != 1 || s[0].Tag != next.Tag || ks.Find(old).State != StateRetired {
		t.Errorf("after switching: %+v", ks.Keys)
	}
	if r := ks.Rollover; r.Phase != PhaseActive || r.Wait.Duration != 2*time.Hour+time.Minute || !r.Seen.IsZero() {
		t.Errorf("after switching: %+v", r)
	}
	if err := ks.Check(); err != nil {
		t.Error(err)
	}

	done, err = ks.Advance(now.Add(5*time.Hour), timing)
	if err != nil || !done || ks.Rollover != nil || ks.Find(old) != nil || len(ks.Keys) != 2 {
		t.Errorf("removing: %v, done %v, keys %+v", err, done, ks.Keys)
	}
	var j map[string]any
	data, _ = ks.Encode()
	if err := json.Unmarshal(data, &j); err != nil || j["rollover"] != nil {
		t.Errorf("a set with no roll in progress has %v", j["rollover"])
	}
}
