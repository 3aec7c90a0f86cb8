package distribute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// Recorder keeps the inventory in step with a run of writes, so that no
// exit, SIGKILL included, leaves an object in a member that the inventory
// does not know, and that nothing no member holds stays recorded.
//
// Journal records, before the first write, every object that is about to
// reach a member that may not hold it yet, as pending in the members it
// goes to. Finished then records each object's outcome as soon as every
// member it goes to has answered, while other objects are still being
// written. Records are written many at once: one request per record is the
// inventory's format, and at client-go's default rate a thousand of them
// would take minutes.
type Recorder struct {
	inv      *inventory.Inventory
	prev     map[inventory.Key]*inventory.Entry
	applySet func(inventory.Key) string
	// Progress, if set, is called as journal records are written.
	Progress func(done, total int)

	// ctx is cancelled when the host stops answering, so that the records
	// in flight then end with it rather than each at its own timeout.
	ctx    context.Context
	cancel context.CancelFunc
	slots  chan struct{}
	wg     sync.WaitGroup
	// host is set once the host leaves a record unanswered; skipped
	// counts the records not even tried after that.
	host    Silence
	skipped atomic.Int64

	mu sync.Mutex
	// journalled holds the records Journal wrote, as written.
	journalled map[inventory.Key]*v1alpha1.FederatedObject
	// awaiting marks the objects that also leave members; held keeps
	// their apply results until Removed brings the rest.
	awaiting map[inventory.Key]bool
	held     map[inventory.Key]heldResults
	errs     []error
}

type heldResults struct {
	plan    *Plan
	applied []Result
}

// NewRecorder returns a Recorder writing at most workers records at once.
// prev holds the records as read before the run; applySet names the set
// each object joins, "" keeping the one recorded.
func NewRecorder(ctx context.Context, inv *inventory.Inventory, prev map[inventory.Key]*inventory.Entry, applySet func(inventory.Key) string, workers int) *Recorder {
	if workers < 1 {
		workers = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Recorder{
		inv: inv, prev: prev, applySet: applySet, ctx: ctx, cancel: cancel,
		slots:      make(chan struct{}, workers),
		journalled: map[inventory.Key]*v1alpha1.FederatedObject{},
		awaiting:   map[inventory.Key]bool{},
		held:       map[inventory.Key]heldResults{},
	}
}

// pendingMessage explains a pending result to whoever finds one left over.
const pendingMessage = "being written; if this stays after the command ended, it ended before the cluster answered: apply again or run kubectl fed sync"

// Journal records the plans as pending in the members they are about to be
// written to. It writes only what the inventory does not already say: an
// object re-applied unchanged to the members that hold it costs nothing
// here. If any record cannot be written, those written are taken back and
// an error is returned: nothing may be written to a member then.
func (r *Recorder) Journal(plans []*Plan) error {
	var todo []*Plan
	for _, p := range plans {
		if r.needsJournal(p) {
			todo = append(todo, p)
		}
	}
	now := metav1.Now()
	var done atomic.Int64
	var errs []error
	var errMu sync.Mutex
	r.each(todo, func(ctx context.Context, p *Plan) {
		if r.host.Err() != nil {
			r.skipped.Add(1)
			return
		}
		var pending []v1alpha1.ClusterResult
		for _, c := range p.Clusters() {
			cr := v1alpha1.ClusterResult{Name: c, Action: v1alpha1.ActionPending, Message: pendingMessage, Time: now}
			if n, ok := p.Replicas[c]; ok {
				cr.Replicas = &n
			}
			pending = append(pending, cr)
		}
		rec, err := r.inv.Save(ctx, p.Template, r.setOf(p.Key), pending, nil, r.prevRecord(p.Key))
		if r.observe(err) != nil {
			errMu.Lock()
			errs = append(errs, fmt.Errorf("%s: %w", p.Key, err))
			errMu.Unlock()
			return
		}
		r.mu.Lock()
		r.journalled[p.Key] = rec
		r.mu.Unlock()
		if r.Progress != nil {
			r.Progress(int(done.Add(1)), len(todo))
		}
	})
	if len(errs) == 0 {
		return nil
	}
	if err := r.host.Err(); err != nil {
		// Taking them back would wait on the host again. Pending in
		// members that were not written, they are harmless: the next
		// apply or sync settles them.
		return fmt.Errorf("recording the objects before writing them: the host stopped answering (%v); nothing was written to any member, and up to %d records are left pending: apply again once the host answers", err, len(r.journalled)+len(errs))
	}
	// Take back what was journalled: the records as they were before.
	var undo []*Plan
	for _, p := range todo {
		if r.journalled[p.Key] != nil {
			undo = append(undo, p)
		}
	}
	r.each(undo, func(ctx context.Context, p *Plan) {
		if err := r.restore(ctx, p.Key, r.journalled[p.Key], nil, nil); err != nil {
			errMu.Lock()
			errs = append(errs, fmt.Errorf("taking back the pending record of %s: %w", p.Key, err))
			errMu.Unlock()
		}
	})
	return fmt.Errorf("recording the objects before writing them, so nothing was written to any member: %w", errors.Join(errs...))
}

// needsJournal reports whether writing p could leave a member holding
// something the inventory does not say: a member not recorded as holding
// the object, or content other than the recorded template.
func (r *Recorder) needsJournal(p *Plan) bool {
	if len(p.Objects) == 0 {
		return false
	}
	e := r.prev[p.Key]
	if e == nil || !sameTemplate(e.Template, p.Template) {
		return true
	}
	for c := range p.Objects {
		if !placed(e.Record, c) {
			return true
		}
	}
	return false
}

// placed reports whether a record says the object was written to cluster.
func placed(rec *v1alpha1.FederatedObject, cluster string) bool {
	for _, c := range rec.Status.Clusters {
		if c.Name == cluster {
			switch c.Action {
			case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
				return true
			}
		}
	}
	return false
}

func sameTemplate(a, b *unstructured.Unstructured) bool {
	if a == nil || b == nil {
		return false
	}
	ja, errA := json.Marshal(a.Object)
	jb, errB := json.Marshal(b.Object)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Await marks objects whose outcome waits for Removed too: those that also
// leave members their placement no longer selects.
func (r *Recorder) Await(keys []inventory.Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		r.awaiting[k] = true
	}
}

// Finished records a plan's outcome, in the background. It is meant for
// Options.Finished.
func (r *Recorder) Finished(p *Plan, results []Result) {
	r.mu.Lock()
	if r.awaiting[p.Key] {
		r.held[p.Key] = heldResults{plan: p, applied: results}
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.settleLater(p, results, nil)
}

// Removed records the outcome of the objects Await named, with the results
// of taking them out of members.
func (r *Recorder) Removed(results []Result) {
	byKey := map[inventory.Key][]Result{}
	for _, res := range results {
		byKey[res.Key] = append(byKey[res.Key], res)
	}
	r.mu.Lock()
	held := r.held
	r.held = map[inventory.Key]heldResults{}
	r.mu.Unlock()
	for k, h := range held {
		r.settleLater(h.plan, h.applied, byKey[k])
	}
}

// observe notes an error from the host, and stops the records in flight
// once it stops answering.
func (r *Recorder) observe(err error) error {
	if r.host.Observe(err) != nil && r.host.Err() != nil {
		r.cancel()
	}
	return err
}

// Close waits for every record to be written and returns what failed.
func (r *Recorder) Close() error {
	r.wg.Wait()
	defer r.cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.host.Err(); err != nil {
		n := int(r.skipped.Load()) + len(r.errs)
		return fmt.Errorf("the host stopped answering (%v): the outcome of %d objects is not recorded, and the inventory keeps them pending where they were being written: once it answers, apply again or run kubectl fed sync", err, n)
	}
	return errors.Join(r.errs...)
}

func (r *Recorder) settleLater(p *Plan, applied, removed []Result) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.slots <- struct{}{}
		defer func() { <-r.slots }()
		if r.host.Err() != nil {
			r.skipped.Add(1)
			return
		}
		if err := r.observe(r.settle(r.ctx, p, applied, removed)); err != nil {
			r.mu.Lock()
			r.errs = append(r.errs, fmt.Errorf("recording %s in the inventory: %w", p.Key, err))
			r.mu.Unlock()
		}
	}()
}

// verdict is what becomes of an object's record once its members answered.
type verdict int

const (
	// keepRecord: the record already says what is true.
	keepRecord verdict = iota
	// saveRun: the record takes this run's template and results.
	saveRun
	// restorePrevious: every member refused this run's object, and some
	// hold the earlier one: the record stays as it was before the run.
	restorePrevious
	// forget: every member refused the object and none holds it: it is
	// not recorded, so that sync and diff do not promise it.
	forget
)

// decide finds the verdict for an object. prev is its record before the
// run, or nil; journalled tells whether Journal rewrote it; applied are
// the results of writing it, removed those of taking it out of members.
func decide(prev *v1alpha1.FederatedObject, journalled, sameSet bool, applied, removed []Result) verdict {
	prevHolds := func(cluster string) bool {
		if prev == nil {
			return false
		}
		for _, c := range prev.Status.Clusters {
			if c.Name == cluster {
				return c.Action != v1alpha1.ActionDeleted
			}
		}
		return false
	}
	held := false
	answered := map[string]bool{}
	for _, res := range append(append([]Result(nil), applied...), removed...) {
		answered[res.Cluster] = true
		switch res.Presence {
		case PresenceHeld, PresenceMaybe:
			held = true
		case PresenceUnknown:
			held = held || prevHolds(res.Cluster)
		}
	}
	if prev != nil {
		for _, c := range prev.Status.Clusters {
			if !answered[c.Name] && c.Action != v1alpha1.ActionDeleted {
				held = true
			}
		}
	}
	refused := len(applied) > 0
	unchanged := len(applied) > 0
	for _, res := range applied {
		refused = refused && res.Refused()
		// A result whose field digest the record lacks is saved, so that
		// the next apply can skip the object (see holdsAlready).
		unchanged = unchanged && res.Action == v1alpha1.ActionUnchanged && res.Fields == fieldsIn(prev, res.Cluster)
	}
	switch {
	case refused && !held:
		return forget
	case refused && prev != nil:
		if !journalled && len(removed) == 0 {
			return keepRecord
		}
		return restorePrevious
	case unchanged && !journalled && prev != nil && sameSet && len(removed) == 0:
		return keepRecord
	}
	return saveRun
}

// fieldsIn returns the Fields digest rec holds for cluster, or "".
func fieldsIn(rec *v1alpha1.FederatedObject, cluster string) string {
	if rec == nil {
		return ""
	}
	for _, c := range rec.Status.Clusters {
		if c.Name == cluster {
			return c.Fields
		}
	}
	return ""
}

// settle records an object's outcome.
func (r *Recorder) settle(ctx context.Context, p *Plan, applied, removed []Result) error {
	prev := r.prevRecord(p.Key)
	r.mu.Lock()
	journalled := r.journalled[p.Key]
	r.mu.Unlock()
	set := r.setOf(p.Key)
	sameSet := prev != nil && prev.Spec.ApplySet == set
	now := metav1.Now()
	var recs []v1alpha1.ClusterResult
	var drop []string
	for _, res := range removed {
		if res.Action == v1alpha1.ActionDeleted {
			drop = append(drop, res.Cluster)
		} else {
			recs = append(recs, res.ClusterResult(now))
		}
	}
	switch decide(prev, journalled != nil, sameSet, applied, removed) {
	case keepRecord:
		return nil
	case forget:
		rec := journalled
		if rec == nil {
			rec = prev
		}
		if rec == nil {
			return nil
		}
		return r.inv.Delete(ctx, rec)
	case restorePrevious:
		return r.restore(ctx, p.Key, journalled, recs, drop)
	}
	for _, res := range applied {
		recs = append(recs, res.ClusterResult(now))
	}
	_, err := r.inv.Save(ctx, p.Template, set, recs, drop, prev)
	return err
}

// restore writes back the record of key as it was before the run, with
// results and drop applied, or deletes the journalled record of an object
// that had none.
func (r *Recorder) restore(ctx context.Context, key inventory.Key, journalled *v1alpha1.FederatedObject, results []v1alpha1.ClusterResult, drop []string) error {
	e := r.prev[key]
	if e == nil {
		if journalled == nil {
			return nil
		}
		return r.inv.Delete(ctx, journalled)
	}
	_, err := r.inv.Save(ctx, e.Template, e.Record.Spec.ApplySet, results, drop, e.Record)
	return err
}

func (r *Recorder) prevRecord(k inventory.Key) *v1alpha1.FederatedObject {
	if e := r.prev[k]; e != nil {
		return e.Record
	}
	return nil
}

func (r *Recorder) setOf(k inventory.Key) string {
	set := ""
	if r.applySet != nil {
		set = r.applySet(k)
	}
	if set == "" {
		if prev := r.prevRecord(k); prev != nil {
			set = prev.Spec.ApplySet
		}
	}
	return set
}

// each calls fn for every plan, as many at once as the Recorder's workers,
// and returns when all calls have.
func (r *Recorder) each(plans []*Plan, fn func(context.Context, *Plan)) {
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Add(1)
		r.slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-r.slots }()
			fn(r.ctx, p)
		}()
	}
	wg.Wait()
}
