package distribute

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// DryRun is how much of a write is only pretended.
type DryRun int

const (
	// DryRunNone writes.
	DryRunNone DryRun = iota
	// DryRunClient reads members but writes nothing.
	DryRunClient
	// DryRunServer sends every write with dryRun=All: members validate
	// and admit it, and persist nothing.
	DryRunServer
)

// Options shape a run of writes.
type Options struct {
	Federation string
	// ForceConflicts takes over fields another field manager owns.
	ForceConflicts bool
	// Adopt takes over objects that exist in a member but are not kfed's.
	Adopt  bool
	DryRun DryRun
	// Concurrency bounds how many members are written at once; 0 means 8.
	Concurrency int
	// Progress, if set, is called after each object and member, by Apply
	// and by Delete.
	Progress func(done, total int)
	// Recording, if set, is called as objects are recorded in the
	// inventory before they are written (see Recorder.Journal).
	Recording func(done, total int)
	// Finished, if set, is called by Apply with a plan's results as soon
	// as every member the plan selects has one, while other objects are
	// still being written: what finished can be recorded before a later
	// member hangs or the process dies. Calls may be concurrent.
	Finished func(p *Plan, results []Result)
	// Recorded holds the inventory's last result of each object in each
	// member. An object whose member copy still matches what was recorded
	// there, and what this run would send, is not written again (see
	// holdsAlready); without a record, every object is written.
	Recorded map[inventory.Key]map[string]v1alpha1.ClusterResult
}

// Result is what happened to one object in one member.
type Result struct {
	Key      inventory.Key
	Cluster  string
	Action   string
	Replicas *int32
	Message  string
	// Presence is what the member holds of the object after the write, as
	// far as the write could tell.
	Presence Presence
	// Fields is the digest of the fields kfed owns in the member's object
	// after a successful write (see fieldsDigest), or "".
	Fields string
}

// Presence is whether a member holds this federation's object after a
// write. The inventory must know every object a member may hold, and
// nothing that no member holds: that is what decides what is recorded.
type Presence int

const (
	// PresenceUnknown means the write did not get as far as sending the
	// object: the member was not Ready, stopped answering, or a read
	// before the write failed. The member holds what it held before.
	PresenceUnknown Presence = iota
	// PresenceHeld means the member holds this federation's object: the
	// write succeeded, or it was refused while an earlier version is there.
	PresenceHeld
	// PresenceAbsent means the member answered, and holds no object of
	// this federation under that name: the write was refused, or the
	// object there belongs to someone else.
	PresenceAbsent
	// PresenceMaybe means the object was sent and no answer came back: it
	// may or may not have been written.
	PresenceMaybe
)

// Failed reports whether the result is a failure.
func (r Result) Failed() bool {
	return r.Action == v1alpha1.ActionFailed || r.Action == v1alpha1.ActionPendingDeletion
}

// Refused reports whether the member answered and refused the write: a
// failure that re-running as it is cannot mend, unlike a member that was
// not Ready or did not answer.
func (r Result) Refused() bool {
	return r.Action == v1alpha1.ActionFailed && (r.Presence == PresenceHeld || r.Presence == PresenceAbsent)
}

// ClusterResult converts r for the inventory.
func (r Result) ClusterResult(now metav1.Time) v1alpha1.ClusterResult {
	return v1alpha1.ClusterResult{Name: r.Cluster, Action: r.Action, Replicas: r.Replicas, Message: r.Message, Time: now, Fields: r.Fields}
}

// Apply writes every plan to its members: members in parallel, and within a
// member the plans in the order given (see SortPlans). Members a plan
// selects that are not Ready get a failed result. A member that stops
// answering fails the rest of its writes at once, without holding up the
// others (see memberRun).
func Apply(ctx context.Context, targets []*Target, plans []*Plan, opts Options) []Result {
	col := newCollector(plans, opts.Finished)
	total := 0
	for _, p := range plans {
		total += len(p.Objects)
		for _, name := range p.NotReady {
			col.add(p, Result{Key: p.Key, Cluster: name, Action: v1alpha1.ActionFailed,
				Message: "cluster not ready: " + reasonOf(targets, name)})
		}
	}
	col.finishEmpty()
	var done atomic.Int64
	fanout.Each(targets, memberConcurrency(opts.Concurrency), func(t *Target) {
		m := newMemberRun(ctx, t)
		defer m.end()
		w := newWriter(t, opts)
		var objs []*unstructured.Unstructured
		for _, p := range plans {
			if obj, ok := p.Objects[t.Name()]; ok {
				w.planned[listKeyOf(obj)]++
				objs = append(objs, obj)
			}
		}
		defer w.prefetch(m.ctx, objs)()
		// Plans of one rank do not depend on each other, so they go to the
		// member in parallel; ranks go one after another.
		for _, tier := range tiers(plans) {
			fanout.Each(tier, objectWorkers, func(p *Plan) {
				obj, ok := p.Objects[t.Name()]
				if !ok {
					return
				}
				r := Result{Key: p.Key, Cluster: t.Name()}
				if n, ok := p.Replicas[t.Name()]; ok {
					r.Replicas = &n
				}
				if err := m.stopped(); err != nil {
					r.Action, r.Message = v1alpha1.ActionFailed, notSent(err)
				} else {
					o := w.apply(m.ctx, obj, recordedFields(opts.Recorded, p.Key, t.Name()))
					o = m.observe(o)
					r.Action, r.Message, r.Presence, r.Fields = o.action, o.message, o.presence, o.fields
				}
				col.add(p, r)
				if opts.Progress != nil {
					opts.Progress(int(done.Add(1)), total)
				}
			})
		}
	})
	return col.sorted()
}

// collector gathers the results of a run, and hands each plan's to
// finished once they are all in.
type collector struct {
	finished func(*Plan, []Result)

	mu      sync.Mutex
	results []Result
	// left counts the results each plan still waits for, and got holds
	// those it has, while finished is set.
	left map[*Plan]int
	got  map[*Plan][]Result
}

func newCollector(plans []*Plan, finished func(*Plan, []Result)) *collector {
	c := &collector{finished: finished, left: map[*Plan]int{}, got: map[*Plan][]Result{}}
	for _, p := range plans {
		c.left[p] = len(p.Objects) + len(p.NotReady)
	}
	return c
}

func (c *collector) add(p *Plan, r Result) {
	c.mu.Lock()
	c.results = append(c.results, r)
	if c.finished == nil {
		c.mu.Unlock()
		return
	}
	c.got[p] = append(c.got[p], r)
	c.left[p]--
	var done []Result
	if c.left[p] == 0 {
		done = c.got[p]
		delete(c.got, p)
	}
	c.mu.Unlock()
	if done != nil {
		c.finished(p, done)
	}
}

// finishEmpty hands over the plans that go to no member at all.
func (c *collector) finishEmpty() {
	if c.finished == nil {
		return
	}
	for p, n := range c.left {
		if n == 0 {
			c.finished(p, nil)
		}
	}
}

func (c *collector) sorted() []Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	SortResults(c.results)
	return c.results
}

// Delete removes the objects of keys from the named members, in reverse
// dependency order. Objects that exist but are not kfed's are left alone.
// Members that are not Ready, or that stop answering, get a
// pending-deletion result.
func Delete(ctx context.Context, targets []*Target, keys map[string][]DeleteItem, opts Options) []Result {
	var results []Result
	var mu sync.Mutex
	add := func(r Result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	byName := map[string]*Target{}
	for _, t := range targets {
		byName[t.Name()] = t
	}
	var ready []*Target
	for cluster, items := range keys {
		t := byName[cluster]
		if t == nil {
			// kfed has no credentials for a cluster that left the
			// federation: waiting for it would leave the deletion pending
			// for ever.
			for _, it := range items {
				add(Result{Key: it.Key, Cluster: cluster, Action: v1alpha1.ActionDeleted, Message: "left in place: the cluster is no longer a member"})
			}
			continue
		}
		if !t.Ready {
			for _, it := range items {
				add(Result{Key: it.Key, Cluster: cluster, Action: v1alpha1.ActionPendingDeletion, Message: "cluster not ready: " + t.Reason})
			}
			continue
		}
		ready = append(ready, t)
	}
	total := 0
	for _, t := range ready {
		total += len(keys[t.Name()])
	}
	var done atomic.Int64
	fanout.Each(ready, memberConcurrency(opts.Concurrency), func(t *Target) {
		m := newMemberRun(ctx, t)
		defer m.end()
		items := append([]DeleteItem(nil), keys[t.Name()]...)
		sort.SliceStable(items, func(i, j int) bool {
			return Rank(items[i].Key.Kind, items[i].Key.Group) > Rank(items[j].Key.Kind, items[j].Key.Group)
		})
		w := newWriter(t, opts)
		for start := 0; start < len(items); {
			end := start + 1
			rank := Rank(items[start].Key.Kind, items[start].Key.Group)
			for end < len(items) && Rank(items[end].Key.Kind, items[end].Key.Group) == rank {
				end++
			}
			fanout.Each(items[start:end], objectWorkers, func(it DeleteItem) {
				r := Result{Key: it.Key, Cluster: t.Name()}
				if err := m.stopped(); err != nil {
					r.Action, r.Message = v1alpha1.ActionPendingDeletion, notSent(err)
				} else {
					o := m.observe(w.delete(m.ctx, it))
					r.Action, r.Message, r.Presence = o.action, o.message, o.presence
				}
				add(r)
				if opts.Progress != nil {
					opts.Progress(int(done.Add(1)), total)
				}
			})
			start = end
		}
	})
	SortResults(results)
	return results
}

// DeleteItem is one object to delete.
type DeleteItem struct {
	Key        inventory.Key
	APIVersion string
}

// SortResults orders results by object, then member.
func SortResults(results []Result) {
	// Each key is written out once, not at every comparison: a thousand
	// results made tens of thousands of strings.
	type keyed struct {
		key string
		r   Result
	}
	byKey := make([]keyed, len(results))
	for i, r := range results {
		byKey[i] = keyed{key: r.Key.String(), r: r}
	}
	sort.SliceStable(byKey, func(i, j int) bool {
		if a, b := byKey[i].key, byKey[j].key; a != b {
			return a < b
		}
		return byKey[i].r.Cluster < byKey[j].r.Cluster
	})
	for i := range byKey {
		results[i] = byKey[i].r
	}
}

func reasonOf(targets []*Target, name string) string {
	for _, t := range targets {
		if t.Name() == name {
			return t.Reason
		}
	}
	return "unknown member"
}

// objectWorkers bounds the writes in flight to one member. Some writes
// are slow for the member's own reasons (a Role's escalation check took
// about 100 ms in the lab), and with 8 at a time an apply to one member
// left a core of the machine idle: 32 kept both busy, 20-25% sooner.
const objectWorkers = 32

// tiers cuts plans, sorted by SortPlans, into runs of equal rank.
func tiers(plans []*Plan) [][]*Plan {
	var out [][]*Plan
	for i, p := range plans {
		if i == 0 || Rank(p.Key.Kind, p.Key.Group) != Rank(plans[i-1].Key.Kind, plans[i-1].Key.Group) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], p)
	}
	return out
}

// memberConcurrency is how many members are written or read at once, for the
// Concurrency of Options or DiffOptions.
func memberConcurrency(concurrency int) int {
	if concurrency <= 0 {
		return 8
	}
	return concurrency
}
