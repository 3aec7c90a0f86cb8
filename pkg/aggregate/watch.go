package aggregate

import (
	"context"
	"fmt"
	"math"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kfed-dev/kfed/pkg/fanout"
)

// Event is what a Watch reports of its member: a change to an object, the
// member failing, or the member answering again.
type Event struct {
	Cluster string
	// Type is watch.Added, watch.Modified or watch.Deleted for a change,
	// with Object the object as it now is (as it last was, when deleted):
	// a Table of one row when the query asked for tables and the member
	// makes them. Type is empty for the other events.
	Type    watch.EventType
	Object  runtime.Object
	Mapping *meta.RESTMapping
	// Failed is why the member cannot be watched. It is reported once; the
	// member is tried again until it answers, and then Back is reported.
	Failed error
	Back   bool
}

// Watch follows one member's objects as kubectl get --watch follows one
// cluster's, but outlives the member's failures: a watch that ends is
// opened again from where it ended, and a member that fails is listed and
// watched again, with a growing but bounded pause between attempts.
type Watch struct {
	Cluster string
	// Connect returns a client for the member. It is called again for each
	// listing after a failure, so that what the member serves is read anew.
	Connect func(ctx context.Context) (*Member, error)
	// Query is one type to follow, with no names: a named object is
	// followed with a field selector on metadata.name.
	Query Query
	// Timeout bounds each listing and the opening of each watch.
	Timeout time.Duration
}

// retryBackoff bounds the pause between attempts to reach a failed member.
var retryBackoff = wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 8 * time.Second, Steps: math.MaxInt32}

// follower is the state of one Watch.Run.
type follower struct {
	*Watch
	events chan<- Event
	member *Member
	// listed says that rv is where the next watch starts; otherwise the
	// member is listed first.
	listed bool
	// rv is where the next watch starts; "" starts it with the objects as
	// they are.
	rv string
	// known holds the resourceVersion of each object last reported, by
	// namespace/name, so that a listing after a failure reports only what
	// changed while the member was away.
	known map[string]string
	down  bool
}

// Run follows the member until ctx ends, sending what happens to events.
// from is the member's first listing of w.Query's objects, already shown,
// or nil when that listing failed and was reported: the member is then
// tried again, and Back is sent when it answers.
func (w *Watch) Run(ctx context.Context, from *Answer, events chan<- Event) {
	f := &follower{Watch: w, events: events, known: map[string]string{}, down: from == nil}
	if from != nil {
		for _, obj := range objectsOf(from) {
			f.remember(watch.Added, obj)
		}
		// Without a list's resourceVersion (the listing named an object,
		// or found none), the watch starts with the objects as they are,
		// and remember passes over those already shown.
		f.member, f.rv, f.listed = from.member, from.ResourceVersion, true
	}
	backoff := retryBackoff
	pause := func() bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff.Step()):
			return true
		}
	}
	for ctx.Err() == nil {
		if !f.listed {
			if err := f.list(ctx); err != nil {
				f.fail(ctx, err)
				if !pause() {
					return
				}
				continue
			}
		}
		stream, mapping, err := f.open(ctx)
		if err != nil {
			if !apierrors.IsResourceExpired(err) && !apierrors.IsGone(err) {
				f.fail(ctx, err)
				if !pause() {
					return
				}
			}
			f.listed = false
			continue
		}
		if f.down {
			f.down = false
			f.send(ctx, Event{Back: true})
		}
		backoff = retryBackoff
		begin := time.Now()
		if err := f.follow(ctx, stream, mapping); err != nil {
			f.fail(ctx, err)
			f.listed = false
		}
		// A watch the server ends at once, again and again, is not left to
		// spin.
		if time.Since(begin) < time.Second && !pause() {
			return
		}
	}
}

func (f *follower) send(ctx context.Context, e Event) {
	e.Cluster = f.Cluster
	select {
	case f.events <- e:
	case <-ctx.Done():
	}
}

// fail reports a failure, once until the member is back.
func (f *follower) fail(ctx context.Context, err error) {
	if f.down || ctx.Err() != nil {
		return
	}
	f.down = true
	f.send(ctx, Event{Failed: err})
}

// list reads the member's objects again and reports those that changed
// since they were last reported. Objects deleted meanwhile are forgotten
// without a word: the listing no longer has them to show.
func (f *follower) list(ctx context.Context) error {
	res := fanout.Call(ctx, f.Timeout, func(ctx context.Context) (*Answer, error) {
		m, err := f.Connect(ctx)
		if err != nil {
			return nil, err
		}
		return Get(ctx, m, f.Cluster, f.Query)
	}, nil)
	if res.Err != nil {
		return res.Err
	}
	a := res.Value
	var mapping *meta.RESTMapping
	for _, info := range a.Infos {
		mapping = info.Mapping
	}
	seen := map[string]bool{}
	for _, obj := range objectsOf(a) {
		key, _ := identity(obj)
		seen[key] = true
		typ := watch.Modified
		if _, ok := f.known[key]; !ok {
			typ = watch.Added
		}
		if f.remember(typ, obj) {
			f.send(ctx, Event{Type: typ, Object: obj, Mapping: mapping})
		}
	}
	for key := range f.known {
		if !seen[key] {
			delete(f.known, key)
		}
	}
	f.member, f.rv, f.listed = a.member, a.ResourceVersion, true
	return nil
}

// open starts a watch from f.rv.
func (f *follower) open(ctx context.Context) (watch.Interface, *meta.RESTMapping, error) {
	type opened struct {
		w       watch.Interface
		mapping *meta.RESTMapping
	}
	// resource.Builder takes no context: Call alone bounds the opening, and
	// stops a watch that opens too late.
	res := fanout.Call(ctx, f.Timeout, func(context.Context) (opened, error) {
		q := f.Query
		q.FullObjects = false
		r := q.builder(f.member).Do()
		mapping, err := r.ResourceMapping()
		if err != nil {
			return opened{}, err
		}
		w, err := r.Watch(f.rv)
		return opened{w, mapping}, err
	}, func(o opened) {
		if o.w != nil {
			o.w.Stop()
		}
	})
	return res.Value.w, res.Value.mapping, res.Err
}

// follow reports the changes w delivers until it ends, ctx ends or the
// server reports an error, which it returns; a watch that has fallen too
// far behind returns nil, with the member to be listed again.
func (f *follower) follow(ctx context.Context, w watch.Interface, mapping *meta.RESTMapping) error {
	defer w.Stop()
	// The server sends a table's columns with the first event only.
	var columns []metav1.TableColumnDefinition
	for {
		var e watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case e, ok = <-w.ResultChan():
		}
		if !ok {
			return nil
		}
		switch e.Type {
		case watch.Error:
			err := apierrors.FromObject(e.Object)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				f.listed = false
				return nil
			}
			return err
		case watch.Bookmark:
			if m, err := meta.Accessor(e.Object); err == nil {
				f.rv = m.GetResourceVersion()
			}
		case watch.Added, watch.Modified, watch.Deleted:
			obj := e.Object
			if t, isTable, err := TableOf(obj); err != nil {
				return err
			} else if isTable {
				if len(t.ColumnDefinitions) == 0 {
					t.ColumnDefinitions = columns
				}
				columns = t.ColumnDefinitions
				obj = t
			}
			if _, rv := identity(obj); rv != "" {
				f.rv = rv
			}
			if f.remember(e.Type, obj) {
				f.send(ctx, Event{Type: e.Type, Object: obj, Mapping: mapping})
			}
		}
	}
}

// remember records a change and reports whether it is news: a change to
// an object already reported at the same resourceVersion is not, as when a
// watch starts with the objects as they are.
func (f *follower) remember(typ watch.EventType, obj runtime.Object) bool {
	key, rv := identity(obj)
	if typ == watch.Deleted {
		delete(f.known, key)
		return true
	}
	if old, ok := f.known[key]; ok && old == rv && rv != "" {
		return false
	}
	f.known[key] = rv
	return true
}

// objectsOf splits a listing into one object per row or item, as a watch
// delivers them.
func objectsOf(a *Answer) []runtime.Object {
	var out []runtime.Object
	for _, info := range a.Infos {
		if info.Object == nil {
			continue
		}
		t, ok, err := TableOf(info.Object)
		if err != nil || !ok {
			out = append(out, info.Object)
			continue
		}
		for _, r := range t.Rows {
			out = append(out, &metav1.Table{ListMeta: t.ListMeta, ColumnDefinitions: t.ColumnDefinitions, Rows: []metav1.TableRow{r}})
		}
	}
	return out
}

// identity returns the namespace/name and resourceVersion of an object, or
// of the object in a table of one row.
func identity(obj runtime.Object) (key, rv string) {
	var m metav1.Object
	if t, ok := obj.(*metav1.Table); ok {
		if len(t.Rows) == 0 {
			return "", ""
		}
		if m, ok = RowObject(&t.Rows[0]); !ok {
			return fmt.Sprint(t.Rows[0].Cells...), ""
		}
	} else {
		var err error
		if m, err = meta.Accessor(obj); err != nil {
			return "", ""
		}
	}
	return m.GetNamespace() + "/" + m.GetName(), m.GetResourceVersion()
}
