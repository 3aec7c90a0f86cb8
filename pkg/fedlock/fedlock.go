// Package fedlock keeps two commands from changing one federation at once.
//
// kfed's inventory is its only memory, and a record is written around the
// writes to the members (pending before, the outcome after), not with them:
// two applies of the same objects with different content that overlap can
// leave members holding one content and the inventory the other. So every command that writes members or records holds the
// federation's lock, a coordination.k8s.io Lease in the host, for as long
// as it runs, and a second command fails at once, naming the holder.
//
// The Lease is taken and renewed with optimistic concurrency (its
// resourceVersion), so of two commands that race for it exactly one gets
// it. A command that dies without releasing it (SIGKILL, a lost laptop)
// stops renewing it, and the lock is free again once its duration has
// passed since the last renewal.
package fedlock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// Duration is how long a lock outlives its holder's last renewal. A holder
// renews it every Duration/3, so a slow host does not lose it; a dead one
// keeps the federation locked for at most this long.
const Duration = 30 * time.Second

// ErrHeld is the error, wrapped, of an Acquire that found the lock held.
var ErrHeld = errors.New("the federation is locked")

// errTaken is why a renewal failed for good: the Lease changed hands or
// went away while this holder had it.
var errTaken = errors.New("taken or deleted while held")

// Name is the name of a federation's Lease in the host.
func Name(federation string) string { return "kfed-lock-" + federation }

// Lock is a held lock.
type Lock struct {
	leases interface {
		Get(context.Context, string, metav1.GetOptions) (*coordinationv1.Lease, error)
		Update(context.Context, *coordinationv1.Lease, metav1.UpdateOptions) (*coordinationv1.Lease, error)
		Delete(context.Context, string, metav1.DeleteOptions) error
	}
	name, holder string

	mu    sync.Mutex
	lease *coordinationv1.Lease
	// lost is set when a renewal found the Lease taken or gone.
	lost error

	stop chan struct{}
	done chan struct{}
}

// Annotations of the Lease that say which process holds it, so that a
// command on the same machine can tell a holder that died (SIGKILL, a
// closed terminal) from one that runs, and take the lock at once.
const (
	annotationHost = v1alpha1.GroupName + "/lock-host"
	annotationPID  = v1alpha1.GroupName + "/lock-pid"
)

// Holder names this process as a lock holder: the command, the user and
// the machine, and the process ID, so that whoever finds the lock held
// can tell what holds it.
func Holder(command string) string {
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s (%s@%s, pid %d)", command, who, host, os.Getpid())
}

// Acquire takes the lock of federation in namespace for holder, and renews
// it until Release. It fails at once, with an error wrapping ErrHeld that
// says who holds it and since when, when another holder has it.
func Acquire(ctx context.Context, client kubernetes.Interface, namespace, federation, holder string) (*Lock, error) {
	leases := client.CoordinationV1().Leases(namespace)
	l := &Lock{leases: leases, name: Name(federation), holder: holder, stop: make(chan struct{}), done: make(chan struct{})}
	now := metav1.NewMicroTime(time.Now())
	host, _ := os.Hostname()
	want := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name: l.name, Namespace: namespace,
			Labels:      map[string]string{v1alpha1.LabelFederation: federation, v1alpha1.LabelManagedBy: v1alpha1.ManagedBy},
			Annotations: map[string]string{annotationHost: host, annotationPID: strconv.Itoa(os.Getpid())},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(holder),
			LeaseDurationSeconds: ptr.To(int32(Duration / time.Second)),
			AcquireTime:          &now,
			RenewTime:            &now,
		},
	}
	// The Lease may come and go between the calls: made by another command
	// after this one found none, released after this one found it, or
	// taken and released by another while this one tried to take it.
	var got *coordinationv1.Lease
	var err error
	for range 3 {
		got, err = leases.Create(ctx, want, metav1.CreateOptions{FieldManager: v1alpha1.ManagedBy})
		if !apierrors.IsAlreadyExists(err) {
			break
		}
		if got, err = l.takeOver(ctx, want); !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			break
		}
	}
	if apierrors.IsConflict(err) {
		return nil, fmt.Errorf("%w by other commands that kept taking it: run this again once they are done", ErrHeld)
	}
	if err != nil {
		return nil, err
	}
	l.lease = got
	go l.renew()
	return l, nil
}

// takeOver takes an existing Lease, if it is free: released, or not
// renewed for longer than its duration. It returns the API server's
// NotFound or Conflict, unwrapped, when the Lease went away or changed
// hands meanwhile and is free again.
func (l *Lock) takeOver(ctx context.Context, want *coordinationv1.Lease) (*coordinationv1.Lease, error) {
	cur, err := l.leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading the lock %s: %w", l.name, err)
	}
	if err := heldError(cur); err != nil {
		return nil, err
	}
	next := cur.DeepCopy()
	next.Spec = want.Spec
	next.Annotations = want.Annotations
	// The update carries the resourceVersion read: of two commands that
	// found the lock free, the API server lets one write, the other gets a
	// conflict.
	got, err := l.leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: v1alpha1.ManagedBy})
	if apierrors.IsConflict(err) {
		// Another command wrote the Lease first. Name it if it holds the
		// lock still; if it is done already, the conflict goes back,
		// unwrapped, for Acquire to try again.
		if now, gerr := l.leases.Get(ctx, l.name, metav1.GetOptions{}); gerr == nil {
			if herr := heldError(now); herr != nil {
				return nil, herr
			}
		}
	}
	return got, err
}

// heldError says who holds a Lease and what to do, or returns nil when the
// Lease is free to take.
func heldError(cur *coordinationv1.Lease) error {
	holder, held := heldBy(cur, time.Now())
	if !held || deadHere(cur) {
		return nil
	}
	since := ""
	if t := cur.Spec.AcquireTime; t != nil {
		since = " since " + t.UTC().Format(time.TimeOnly) + " UTC"
	}
	return fmt.Errorf("%w by %s%s: wait for it to finish and run this again; if it is gone, the lock (Lease %s/%s in the host) frees itself %s after its last renewal",
		ErrHeld, holder, since, cur.Namespace, cur.Name, Duration)
}

// heldBy reports whether a Lease is held at now, and by whom.
func heldBy(l *coordinationv1.Lease, now time.Time) (string, bool) {
	holder := ptr.Deref(l.Spec.HolderIdentity, "")
	if holder == "" || l.Spec.RenewTime == nil {
		return "", false
	}
	d := time.Duration(ptr.Deref(l.Spec.LeaseDurationSeconds, int32(Duration/time.Second))) * time.Second
	return holder, now.Before(l.Spec.RenewTime.Add(d))
}

// deadHere reports whether the Lease's holder was a process of this
// machine that is gone.
func deadHere(l *coordinationv1.Lease) bool {
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(l.Annotations[annotationPID])
	if err != nil || host == "" || l.Annotations[annotationHost] != host {
		return false
	}
	return !alive(pid)
}

// renew keeps the lock until Release.
func (l *Lock) renew() {
	defer close(l.done)
	tick := time.NewTicker(Duration / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), Duration/3)
		err := l.renewOnce(ctx)
		cancel()
		if err != nil && !isTransient(err) {
			l.mu.Lock()
			l.lost = err
			l.mu.Unlock()
			return
		}
	}
}

func (l *Lock) renewOnce(ctx context.Context) error {
	l.mu.Lock()
	next := l.lease.DeepCopy()
	l.mu.Unlock()
	next.Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now()))
	got, err := l.leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: v1alpha1.ManagedBy})
	if err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return fmt.Errorf("the lock %s of %s was %w: %v", l.name, l.holder, errTaken, err)
		}
		return err
	}
	l.mu.Lock()
	l.lease = got
	l.mu.Unlock()
	return nil
}

// isTransient reports whether a renewal may succeed on the next try: the
// host timed out or is briefly unreachable.
func isTransient(err error) bool { return !errors.Is(err, errTaken) }

// Lost returns why the lock was lost while held, or nil.
func (l *Lock) Lost() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release stops renewing the lock and gives it up. The Lease is deleted
// only if this holder still has it, by its resourceVersion.
func (l *Lock) Release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	cur := l.lease
	lost := l.lost
	l.mu.Unlock()
	if lost != nil {
		return lost
	}
	err := l.leases.Delete(ctx, l.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &cur.ResourceVersion}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}
