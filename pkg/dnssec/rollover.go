package dnssec

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// A ZSK roll by pre-publication (RFC 6781 4.1.1.1, timing after RFC 7583
// 3.2) goes through two phases, each kept in the key set so that an
// interrupted roll goes on from where it stopped:
//
//  1. PhasePublished: the new ZSK is in the DNSKEY RRset and signs
//     nothing. Once every nameserver serves it, resolvers may still hold
//     the old DNSKEY RRset for its TTL: Ipub = propagation + DNSKEY TTL +
//     a safety margin.
//  2. PhaseActive: the new ZSK signs and the old one is retired, still
//     published. Once every nameserver signs with the new key, resolvers
//     may still hold signatures of the old one for the longest TTL of the
//     zone: Iret = propagation + that TTL + a safety margin.
//
// Then the old key leaves the set and the roll is over. Propagation is
// measured, not guessed: a phase's wait counts from the moment every
// nameserver was seen serving it (Rollover.Seen).

// Phase is a roll's phase.
type Phase string

const (
	// PhasePublished is the new key published, the old one signing.
	PhasePublished Phase = "published"
	// PhaseActive is the new key signing, the old one retired.
	PhaseActive Phase = "active"
)

// Rollover is a ZSK roll in progress.
type Rollover struct {
	Phase Phase `json:"phase"`
	// Old and New are the tags of the key that goes and the one that comes.
	Old uint16 `json:"old"`
	New uint16 `json:"new"`
	// Since is when the phase was written into the key set.
	Since time.Time `json:"since"`
	// Seen is when every nameserver was first seen serving the phase;
	// zero until then.
	Seen time.Time `json:"seen,omitzero"`
	// Wait is how long after Seen the next step may be taken.
	Wait Duration `json:"wait"`
}

// Duration is a time.Duration written as "1h0m5s" in JSON.
type Duration struct{ time.Duration }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

// Due returns when the roll's next step may be taken: zero while the
// phase has not been seen on every nameserver.
func (r *Rollover) Due() time.Time {
	if r.Seen.IsZero() {
		return time.Time{}
	}
	return r.Seen.Add(r.Wait.Duration)
}

// Describe names the set's keys by role, tag and state, and says where a
// roll in progress stands, for logs and for kubectl fed: never a key.
func (ks *KeySet) Describe() string {
	var keys []string
	for _, k := range ks.Keys {
		keys = append(keys, fmt.Sprintf("%s %d %s", strings.ToUpper(string(k.Role)), k.Tag, k.State))
	}
	s := strings.Join(keys, ", ")
	if r := ks.Rollover; r != nil {
		s += fmt.Sprintf("; ZSK roll from %d to %d, phase %s since %s", r.Old, r.New, r.Phase, r.Since.UTC().Format(time.RFC3339))
		if due := r.Due(); !due.IsZero() {
			s += ", next step due at " + due.UTC().Format(time.RFC3339)
		} else {
			s += ", not yet seen on every server"
		}
	}
	return s
}

// Timing is what a roll's waits are derived from.
type Timing struct {
	// KeyTTL is the DNSKEY RRset's TTL.
	KeyTTL time.Duration
	// MaxTTL is the longest TTL of any signed RRset of the zone, denials
	// included.
	MaxTTL time.Duration
	// Safety is added to each wait, for clocks and caches that count
	// loosely.
	Safety time.Duration
}

// PublishWait is Ipub less the propagation, which the roll measures.
func (t Timing) PublishWait() time.Duration { return t.KeyTTL + t.Safety }

// RetireWait is Iret less the propagation.
func (t Timing) RetireWait() time.Duration { return t.MaxTTL + t.Safety }

// StartRoll begins a ZSK roll: next, a new ZSK, is published beside the
// active one, which the roll will replace.
func (ks *KeySet) StartRoll(next Key, now time.Time, t Timing) error {
	if ks.Rollover != nil {
		return fmt.Errorf("a roll from key %d to key %d is in progress, phase %s: resume it rather than start another", ks.Rollover.Old, ks.Rollover.New, ks.Rollover.Phase)
	}
	active := ks.Signing(RoleZSK)
	if len(active) != 1 {
		return fmt.Errorf("a roll replaces the one active ZSK, and the key set has %d", len(active))
	}
	if next.Role != RoleZSK || next.State != StatePublished {
		return errors.New("a roll starts with a published ZSK")
	}
	if ks.Find(next.Tag) != nil {
		return fmt.Errorf("the key set has a key of tag %d already", next.Tag)
	}
	ks.Keys = append(ks.Keys, next)
	ks.Rollover = &Rollover{Phase: PhasePublished, Old: active[0].Tag, New: next.Tag, Since: now.UTC(), Wait: Duration{t.PublishWait()}}
	return nil
}

// Advance takes the roll's next step: the new key signs and the old one
// retires, or the old one leaves the set and the roll is over (done).
func (ks *KeySet) Advance(now time.Time, t Timing) (done bool, err error) {
	r := ks.Rollover
	if r == nil {
		return false, errors.New("no roll is in progress")
	}
	old, next := ks.Find(r.Old), ks.Find(r.New)
	switch r.Phase {
	case PhasePublished:
		if old == nil || next == nil {
			return false, fmt.Errorf("the roll's keys %d and %d are not both in the key set", r.Old, r.New)
		}
		old.State, next.State = StateRetired, StateActive
		ks.Rollover = &Rollover{Phase: PhaseActive, Old: r.Old, New: r.New, Since: now.UTC(), Wait: Duration{t.RetireWait()}}
		return false, nil
	case PhaseActive:
		for i := range ks.Keys {
			if ks.Keys[i].Tag == r.Old {
				ks.Keys = append(ks.Keys[:i], ks.Keys[i+1:]...)
				break
			}
		}
		ks.Rollover = nil
		return true, nil
	}
	return false, fmt.Errorf("the roll is in an unknown phase %q", r.Phase)
}
