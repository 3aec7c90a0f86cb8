package plugin

// The members half of `kubectl fed status`: each member probed, its tokens
// read, and the inventory's objects counted there.

import (
	"context"
	"sort"
	"time"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/member"
	"github.com/kfed-dev/kfed/pkg/membership"
)

// members probes every member of the session as kubectl fed clusters
// does, reads its tokens, and counts the objects placed, pending and
// drifted there.
func (o *StatusOptions) members(ctx context.Context, fs *fedSession, now time.Time) ([]MemberStatus, error) {
	clusters := make([]v1alpha1.Cluster, len(fs.targets))
	// A member the session could not reach is not asked again: a hung
	// one would cost the timeout twice.
	unready := map[string]member.Health{}
	for i, t := range fs.targets {
		clusters[i] = t.Cluster
		if !t.Ready {
			unready[t.Name()] = member.Health{Reason: t.Cause, Message: t.Reason, Time: now}
		}
	}
	rows := probeMembers(ctx, fs.store, fs.federation, clusters, unready, o.Timeout, now)

	counts, err := o.objects(ctx, fs)
	if err != nil {
		return nil, err
	}
	out := make([]MemberStatus, len(rows))
	for i, r := range rows {
		m := newMemberStatus(r, membership.Identities())
		if c := counts[m.Name]; c != nil {
			m.Placed, m.Pending, m.CompareErrors = c.placed, sortedSet(c.pending), c.errors
			if c.drifted != nil {
				m.Drifted = sortedSet(c.drifted)
			}
		}
		out[i] = m
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// objects reads the inventory and, with --drift, compares every placed
// object with the Ready members, as kubectl fed diff does.
func (o *StatusOptions) objects(ctx context.Context, fs *fedSession) (map[string]*objectCounts, error) {
	entries, err := fs.entries(ctx)
	if err != nil {
		return nil, err
	}
	recorded := recordedResults(entries)
	plans, err := fs.planInventory(entries)
	if err != nil {
		return nil, err
	}
	var diffs []distribute.Difference
	var compared []string
	if o.Drift {
		diffs = distribute.Diff(ctx, fs.targets, plans, distribute.DiffOptions{
			Federation: fs.federation.Name, Recorded: recorded,
		})
		for _, t := range fs.targets {
			if t.Ready {
				compared = append(compared, t.Name())
			}
		}
	}
	diffs = append(diffs, extras(entries, plans, recorded, false)...)
	return countObjects(entries, plans, recorded, diffs, compared), nil
}

// objectCounts is what the inventory and a comparison say of one member.
type objectCounts struct {
	placed  int
	pending map[string]bool
	// drifted is nil when the member was not compared.
	drifted map[string]bool
	errors  []string
}

// countObjects counts, per member, the objects the inventory records as
// placed there; those pending there (a write or deletion not finished,
// an object its placement selects that it does not hold, one it holds
// that is no longer placed there); and, in the members compared, those
// that drifted: changed there, or deleted behind kfed's back.
func countObjects(entries []*inventory.Entry, plans []*distribute.Plan, recorded map[inventory.Key]map[string]v1alpha1.ClusterResult, diffs []distribute.Difference, compared []string) map[string]*objectCounts {
	counts := map[string]*objectCounts{}
	of := func(cluster string) *objectCounts {
		c := counts[cluster]
		if c == nil {
			c = &objectCounts{pending: map[string]bool{}}
			counts[cluster] = c
		}
		return c
	}
	for _, name := range compared {
		of(name).drifted = map[string]bool{}
	}
	for _, e := range entries {
		key := e.Key().String()
		for _, r := range e.Record.Status.Clusters {
			switch {
			case r.Action == v1alpha1.ActionDeleted:
			case e.Record.Spec.Deleting:
				of(r.Name).pending[key] = true
			case placedIn(recorded[e.Key()], r.Name):
				of(r.Name).placed++
			default:
				of(r.Name).pending[key] = true
			}
		}
	}
	for _, p := range plans {
		for _, cluster := range p.Selected() {
			if !placedIn(recorded[p.Key], cluster) {
				of(cluster).pending[p.Key.String()] = true
			}
		}
	}
	for _, d := range diffs {
		c := of(d.Cluster)
		switch d.State {
		case distribute.StateExtra:
			c.pending[d.Object] = true
		case distribute.StateChanged:
			c.drifted[d.Object] = true
		case distribute.StateMissing:
			if placedIn(recorded[d.Key], d.Cluster) {
				c.drifted[d.Object] = true
			}
		case distribute.StateError:
			c.errors = append(c.errors, d.Object+": "+oneLine(d.Message))
		}
	}
	return counts
}

func sortedSet(set map[string]bool) []string {
	out := sortedKeys(set)
	if out == nil {
		out = []string{}
	}
	return out
}
