package distribute

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

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
