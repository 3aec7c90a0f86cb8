package plugin

// How get -w ends: the exit code, and the members named at the end.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// watchFailures records the members whose watch failed during a get -w,
// and whether they answered again.
type watchFailures map[string]*watchFailure

type watchFailure struct {
	err  error
	back bool
}

// newWatchFailures returns the failures of the members whose first listing
// failed: ClusterErrors, as Run collects them.
func newWatchFailures(failed []error) watchFailures {
	f := watchFailures{}
	for _, err := range failed {
		var ce *aggregate.ClusterError
		if errors.As(err, &ce) {
			f[ce.Cluster] = &watchFailure{err: ce.Err}
		}
	}
	return f
}

// record notes a member's failure, or its return.
func (f watchFailures) record(e aggregate.Event) {
	switch {
	case e.Failed != nil:
		f[e.Cluster] = &watchFailure{err: e.Failed}
	case e.Back && f[e.Cluster] != nil:
		f[e.Cluster].back = true
	}
}

// end returns what a watch that ran until ctx ended exits with.
//
// kubectl get --watch exits 1 when it is interrupted (its interrupt
// handler exits so) and 0 when its watch ends, whatever ended it: the
// request timeout, or the server closing the watch. kfed does not end when
// a member's server closes the watch: it watches the member again. So it
// exits 1 when interrupted, 0 when --request-timeout ends it, and, either
// way, 1 with an error for each member whose watch failed meanwhile, since
// changes in that member may be missing from what was printed.
func (f watchFailures) end(ctx context.Context) error {
	var errs []error
	for _, c := range slices.Sorted(maps.Keys(f)) {
		err := f[c].err
		if f[c].back {
			err = fmt.Errorf("%s; watched again once it answered, but objects deleted meanwhile were not shown", aggregate.Describe(err))
		}
		errs = append(errs, &aggregate.ClusterError{Cluster: c, Err: err})
	}
	if len(errs) > 0 {
		return aggregate.NewErrors(errs)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil
	}
	// Interrupted: exit 1 without a word, as kubectl does.
	return cmdutil.ErrExit
}

// endBeforeWatch returns what get -w exits with when ctx ended while the
// members were first listed: 1 without a word when interrupted; at
// --request-timeout, the members that timed out, as kubectl's listing
// fails when it times out.
func endBeforeWatch(ctx context.Context, failed []error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return aggregate.NewErrors(failed)
	}
	return cmdutil.ErrExit
}
