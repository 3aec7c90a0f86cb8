package plugin

import (
	"context"

	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// prune deletes the objects of the apply set that are not in the input.
func (o *ApplyOptions) prune(ctx context.Context, fs *fedSession, plans []*distribute.Plan, opts distribute.Options) ([]distribute.Result, error) {
	entries, err := fs.entries(ctx)
	if err != nil {
		return nil, err
	}
	inInput := map[inventory.Key]bool{}
	for _, p := range plans {
		inInput[p.Key] = true
	}
	var gone []*inventory.Entry
	for _, e := range entries {
		if e.Record.Spec.ApplySet == o.ApplySet && !inInput[e.Key()] {
			gone = append(gone, e)
		}
	}
	results, err := deleteEntries(ctx, fs, gone, opts, false)
	applied := make([]inventory.Key, 0, len(plans))
	for _, p := range plans {
		applied = append(applied, p.Key)
	}
	return append(results, removeCreatedNamespaces(ctx, fs, results, stillPlaced(entries, gone, applied...), opts)...), err
}
