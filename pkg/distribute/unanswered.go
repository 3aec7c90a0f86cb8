package distribute

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
)

// outcome is what one write or deletion in one member came to.
type outcome struct {
	action, message string
	presence        Presence
	// fields is the digest of the fields kfed owns in the object after a
	// successful write (see fieldsDigest).
	fields string
	// unanswered is the error of a request the member gave no answer to,
	// which stops the rest of the member's run (see memberRun).
	unanswered error
}

// failedBefore is the outcome of an error before the object was sent: the
// member holds what it held.
func failedBefore(err error) outcome {
	o := outcome{action: v1alpha1.ActionFailed, message: err.Error(), presence: PresenceUnknown}
	if unanswered(err) {
		o.unanswered = err
	}
	return o
}

// failedSending is the outcome of an error from the request that carried
// the object. When no answer came, or the server failed on its side, the
// write may have taken effect; otherwise the caller knows what the member
// holds, and sets presence.
func failedSending(err error) outcome {
	o := outcome{action: v1alpha1.ActionFailed, message: err.Error()}
	if unanswered(err) {
		o.unanswered = err
		o.presence = PresenceMaybe
	}
	// 500 and 504 in particular: the server may have stored the object
	// before it failed to say so.
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 500 {
		o.presence = PresenceMaybe
	}
	return o
}

// NoAnswer reports whether err means the server gave no answer: the
// request timed out, or its connection could not be made or broke.
func NoAnswer(err error) bool { return unanswered(err) }

// unanswered reports whether err means the member gave no answer: the
// request timed out, or its connection could not be made or broke. A
// status from the server, any status, is an answer.
func unanswered(err error) bool {
	if err == nil {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false
	}
	var urlErr *url.Error
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &urlErr) || errors.As(err, &netErr) ||
		utilnet.IsProbableEOF(err) || utilnet.IsConnectionReset(err)
}

// memberRun is one member's part of a run of writes. Every request to the
// member is bounded by its request timeout; the first request that gets no
// answer stops the whole run in that member: the writes in flight are
// cancelled and those not yet sent fail at once. Without that, each of a
// thousand objects would wait out its own timeout in a member that hangs,
// holding the command for hours.
type memberRun struct {
	t      *Target
	parent context.Context
	ctx    context.Context
	cancel context.CancelCauseFunc
}

// newMemberRun starts a run in t; it is stopped from the start if t was
// already found silent earlier in the command.
func newMemberRun(parent context.Context, t *Target) *memberRun {
	ctx, cancel := context.WithCancelCause(parent)
	if err := t.Silent(); err != nil {
		cancel(err)
	}
	return &memberRun{t: t, parent: parent, ctx: ctx, cancel: cancel}
}

// end releases the run's context.
func (m *memberRun) end() { m.cancel(context.Canceled) }

// errStopped wraps why a member's run stopped.
type errStopped struct {
	cluster string
	err     error
	timeout time.Duration
}

func (e *errStopped) Error() string {
	if errors.Is(e.err, context.DeadlineExceeded) || isTimeout(e.err) {
		return fmt.Sprintf("cluster %s stopped answering: no answer within %s", e.cluster, e.timeout)
	}
	return fmt.Sprintf("cluster %s stopped answering: %v", e.cluster, e.err)
}

func (e *errStopped) Unwrap() error { return e.err }

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// stopped returns why the member's run stopped, or nil while it goes on.
// A run whose caller's context ended has stopped for that reason.
func (m *memberRun) stopped() error {
	if m.ctx.Err() == nil {
		return nil
	}
	if err := m.parent.Err(); err != nil {
		return err
	}
	return context.Cause(m.ctx)
}

// observe stops the run if o met a member that does not answer, and words
// the failures of writes that a stop cut short.
func (m *memberRun) observe(o outcome) outcome {
	if m.parent.Err() != nil {
		return o
	}
	if o.unanswered != nil {
		// The first cause is kept; later ones are the same silence.
		stop := &errStopped{cluster: m.t.Name(), err: o.unanswered, timeout: m.t.RequestTimeout}
		m.t.setSilent(stop)
		m.cancel(stop)
	}
	if o.unanswered == nil || m.ctx.Err() == nil {
		return o
	}
	cause := context.Cause(m.ctx)
	switch {
	case o.presence == PresenceMaybe && o.action == v1alpha1.ActionPendingDeletion:
		o.message = cause.Error() + "; the deletion may have reached it: kubectl fed sync finishes it once the cluster answers"
	case o.presence == PresenceMaybe:
		o.message = cause.Error() + "; the object may have been written there: apply again, or run kubectl fed sync once the cluster answers"
	default:
		o.message = notSent(cause)
	}
	return o
}

// notSent is the message of a write that was not sent because the run in
// its member had stopped.
func notSent(cause error) string {
	return "not attempted: " + cause.Error()
}

// Silence remembers the first request a server left unanswered. A command
// that sends one server many requests, such as the host's records, checks
// it before each, so that once the server stops answering the rest fail at
// once instead of each waiting out its own timeout. Its methods may be
// called concurrently.
type Silence struct {
	err atomic.Pointer[error]
}

// Err returns the first unanswered request's error, or nil.
func (s *Silence) Err() error {
	if err := s.err.Load(); err != nil {
		return *err
	}
	return nil
}

// Observe records err if it means the server gave no answer, and returns
// it.
func (s *Silence) Observe(err error) error {
	if unanswered(err) {
		s.err.CompareAndSwap(nil, &err)
	}
	return err
}
