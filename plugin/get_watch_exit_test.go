package plugin

import (
	"context"
	"testing"
	"time"

	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/kfed-dev/kfed/pkg/aggregate"
)

// TestGetWatchExit: a watch ends as kubectl get --watch ends, 1 when
// interrupted and 0 at --request-timeout, unless a member's watch failed
// meanwhile, which makes it 1 with the member named.
func TestGetWatchExit(t *testing.T) {
	interrupted, cancel := context.WithCancel(context.Background())
	cancel()
	timedOut, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	jpnDown := []error{&aggregate.ClusterError{Cluster: "jpn", Err: refused("https://127.0.0.1:40003")}}
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		failed []error
		events []aggregate.Event
		want   error
	}{
		{name: "interrupted", ctx: interrupted, want: cmdutil.ErrExit},
		{name: "request timeout", ctx: timedOut},
		{name: "member down from the start", ctx: timedOut, failed: jpnDown,
			want: errorString(`error: cluster jpn: Get "https://127.0.0.1:40003/api?timeout=10s": connection refused`)},
		{name: "member down, interrupted", ctx: interrupted, failed: jpnDown,
			want: errorString(`error: cluster jpn: Get "https://127.0.0.1:40003/api?timeout=10s": connection refused`)},
		{name: "member failed and back", ctx: timedOut,
			events: []aggregate.Event{{Cluster: "usa", Failed: refused("https://127.0.0.1:40001")}, {Cluster: "usa", Back: true}},
			want:   errorString(`error: cluster usa: Get "https://127.0.0.1:40001/api?timeout=10s": connection refused; watched again once it answered, but objects deleted meanwhile were not shown`)},
		{name: "back before it failed", ctx: timedOut, events: []aggregate.Event{{Cluster: "usa", Back: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			down := newWatchFailures(tc.failed)
			for _, e := range tc.events {
				down.record(e)
			}
			got := down.end(tc.ctx)
			if (got == nil) != (tc.want == nil) || got != nil && got.Error() != tc.want.Error() {
				t.Errorf("exit with %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGetWatchEndsWithContext runs a whole watch whose context has ended:
// the listing is printed, and the exit is the context's.
func TestGetWatchEndsWithContext(t *testing.T) {
	o, out, _ := newTestGetOptions(t, []string{"deployments"}, "-w")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.watch(ctx, nil, nil, webDeployments(t), nil, nil); err != cmdutil.ErrExit {
		t.Errorf("interrupted: %v, want cmdutil.ErrExit", err)
	}
	if out.Len() == 0 {
		t.Error("the listing was not printed")
	}
	if err := endBeforeWatch(ctx, nil); err != cmdutil.ErrExit {
		t.Errorf("interrupted while listing: %v, want cmdutil.ErrExit", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 0)
	defer cancel()
	failed := []error{&aggregate.ClusterError{Cluster: "eur", Err: context.DeadlineExceeded}}
	if err := endBeforeWatch(ctx, failed); err == nil || err.Error() != "error: cluster eur: context deadline exceeded" {
		t.Errorf("out of time while listing: %v", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
