package distribute

// The Recorder's journal: the pending records written before any member
// is, and which objects need one.

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
)

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
