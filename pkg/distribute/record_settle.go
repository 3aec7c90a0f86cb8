package distribute

// How the Recorder settles an object's record once its members answered:
// the verdict, then saving, restoring or forgetting the record.

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

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
