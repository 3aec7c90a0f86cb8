package plugin

import (
	"errors"
	"fmt"

	"github.com/kfed-dev/kfed/pkg/distribute"
)

// refuseEmptyPlacement returns an error naming every plan whose placement
// selects no member, Ready or not: most often a typo in a cluster name or a
// selector, which would otherwise deploy nothing and exit 0. An object meant
// to go nowhere for now is applied with --allow-empty, and recorded so.
func refuseEmptyPlacement(plans []*distribute.Plan, targets []*distribute.Target) error {
	members := distribute.Members(targets)
	var errs []error
	for _, p := range plans {
		if len(p.Selected()) > 0 {
			continue
		}
		errs = append(errs, fmt.Errorf("%s: %w", p.Key, p.Policy.NoMember(members)))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("nothing was applied:\n%w\nfix the placement, or pass --allow-empty if these are meant to go to no member for now", errors.Join(errs...))
}
