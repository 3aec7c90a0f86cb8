package inventory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// forgetWorkers bounds the record writes of ForgetCluster in flight: a big
// federation has thousands of records, and one at a time is minutes.
const forgetWorkers = 16

// ForgetCluster takes a member that leaves the federation out of every
// record: nothing will be written to it or deleted from it again, and what
// kfed put there stays as it is, unmanaged. A record whose deletion was
// pending only there is deleted. Records are written forgetWorkers at a
// time (the caller's client must allow that rate), and progress, if not
// nil, is told of each. It returns how many records changed; run again
// after an error, it takes up what is left.
func (inv *Inventory) ForgetCluster(ctx context.Context, cluster string, progress func(done, total int)) (int, error) {
	entries, err := inv.List(ctx)
	if err != nil {
		return 0, err
	}
	var todo []*v1alpha1.FederatedObject
	for _, e := range entries {
		for _, c := range e.Record.Status.Clusters {
			if c.Name == cluster {
				todo = append(todo, e.Record)
				break
			}
		}
	}
	var (
		mu      sync.Mutex
		changed int
		errs    []error
		wg      sync.WaitGroup
	)
	work := make(chan *v1alpha1.FederatedObject)
	for range min(forgetWorkers, len(todo)) {
		wg.Go(func() {
			for r := range work {
				err := inv.forgetIn(ctx, r, cluster)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("record %s: %w", r.Name, err))
				} else {
					changed++
				}
				if progress != nil {
					progress(changed+len(errs), len(todo))
				}
				mu.Unlock()
			}
		})
	}
	for _, r := range todo {
		if ctx.Err() != nil {
			break
		}
		work <- r
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return changed, errors.Join(errs...)
}

// forgetIn takes cluster out of one record, or deletes the record when
// its deletion was pending there alone.
func (inv *Inventory) forgetIn(ctx context.Context, r *v1alpha1.FederatedObject, cluster string) error {
	others := 0
	for _, c := range r.Status.Clusters {
		if c.Name != cluster && c.Action != v1alpha1.ActionDeleted {
			others++
		}
	}
	if r.Spec.Deleting && others == 0 {
		return inv.Delete(ctx, r)
	}
	_, err := inv.SetStatus(ctx, r, r.Spec.Deleting, nil, []string{cluster})
	return err
}
