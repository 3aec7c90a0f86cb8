package plugin

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// deleteEntries removes entries from the members that hold them, then from
// the inventory; entries that some member could not be reached for stay,
// marked deleting, for sync to finish, unless force.
func deleteEntries(ctx context.Context, fs *fedSession, entries []*inventory.Entry, opts distribute.Options, force bool) ([]distribute.Result, error) {
	items := map[string][]distribute.DeleteItem{}
	for _, e := range entries {
		for _, c := range e.Record.Status.Clusters {
			if c.Action == v1alpha1.ActionDeleted {
				continue
			}
			items[c.Name] = append(items[c.Name], distribute.DeleteItem{Key: e.Key(), APIVersion: e.Template.GetAPIVersion()})
		}
	}
	results := distribute.Delete(ctx, fs.targets, items, opts)
	if opts.DryRun != distribute.DryRunNone {
		return results, nil
	}
	byKey := map[inventory.Key][]distribute.Result{}
	for _, r := range results {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	// One record a request, many at once: a thousand records one after
	// another would take longer than the deletions themselves. Once the
	// host leaves one unanswered, the rest are not tried.
	var host distribute.Silence
	skipped := 0
	saved := fanout.Map(ctx, entries, fanout.Options{Concurrency: inventoryWriters}, func(ctx context.Context, e *inventory.Entry) (struct{}, error) {
		if err := host.Err(); err != nil {
			return struct{}{}, errNotTried
		}
		var pending []distribute.Result
		var done []string
		for _, r := range byKey[e.Key()] {
			if r.Action == v1alpha1.ActionDeleted {
				done = append(done, r.Cluster)
			} else {
				pending = append(pending, r)
			}
		}
		if len(pending) == 0 || force {
			if err := host.Observe(fs.inventory.Delete(ctx, e.Record)); err != nil {
				return struct{}{}, fmt.Errorf("removing %s from the inventory: %w", e.Key(), err)
			}
			return struct{}{}, nil
		}
		now := metav1.Now()
		var recs []v1alpha1.ClusterResult
		for _, r := range pending {
			r.Action = v1alpha1.ActionPendingDeletion
			recs = append(recs, r.ClusterResult(now))
		}
		if _, err := fs.inventory.SetStatus(ctx, e.Record, true, recs, done); host.Observe(err) != nil {
			return struct{}{}, fmt.Errorf("recording the pending deletion of %s: %w", e.Key(), err)
		}
		return struct{}{}, nil
	})
	var errs []error
	for _, r := range saved {
		switch {
		case r.Err == nil:
		case errors.Is(r.Err, errNotTried):
			skipped++
		case host.Err() != nil && distribute.NoAnswer(r.Err):
			skipped++
		default:
			errs = append(errs, r.Err)
		}
	}
	if err := host.Err(); err != nil {
		errs = append(errs, fmt.Errorf("the host stopped answering (%v): %d inventory records still name objects that were deleted; once it answers, run the same delete again, which finds them gone and removes their records", err, skipped))
	}
	if force {
		for i := range results {
			if results[i].Action == v1alpha1.ActionPendingDeletion {
				results[i].Action = v1alpha1.ActionDeleted
				results[i].Message = "forgotten (--force); left in the cluster: " + results[i].Message
			}
		}
	}
	return results, errors.Join(errs...)
}

// errNotTried marks inventory writes not tried because the host had
// stopped answering.
var errNotTried = errors.New("not tried: the host stopped answering")
