// Package member talks to member clusters with the identities join created:
// it probes their health and tells why a member cannot be used.
package member

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// Health is what one probe of a member found.
type Health struct {
	// Ready is true when both identities reached the member and were
	// allowed what they need.
	Ready bool
	// Reason is one of the v1alpha1.Reason* values; Message explains it.
	Reason, Message string
	// Version is the API server's version, such as v1.35.4.
	Version string
	// Nodes is the number of nodes, when the probe could count them.
	Nodes *int32
	// Latency is the round-trip time of the version request.
	Latency time.Duration
	// Time is when the probe started.
	Time time.Time
}

// Probe checks a member with both of kfed's identities: the manager asks
// for the server's version (the latency is that request's round trip), and
// the DNS reader lists EndpointSlices, as coredns-fed does. The manager
// counts the nodes too if its role lets it; kfed's own role does not, and
// the count is then unknown. ctx bounds the whole probe.
func Probe(ctx context.Context, manager, reader *rest.Config) Health {
	h := Health{Time: time.Now()}
	kube, err := kubernetes.NewForConfig(withContextTimeout(ctx, manager))
	if err != nil {
		return h.fail(err)
	}
	begin := time.Now()
	body, err := kube.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
	h.Latency = time.Since(begin)
	if err != nil {
		return h.fail(fmt.Errorf("manager identity: %w", err))
	}
	v, err := parseVersion(body)
	if err != nil {
		return h.fail(err)
	}
	h.Version = v

	readerMeta, err := metadata.NewForConfig(withContextTimeout(ctx, reader))
	if err != nil {
		return h.fail(err)
	}
	if _, err := readerMeta.Resource(endpointSlicesResource).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return h.fail(fmt.Errorf("DNS-reader identity: %w", err))
	}
	managerMeta, err := metadata.NewForConfig(withContextTimeout(ctx, manager))
	if err != nil {
		return h.fail(err)
	}
	switch n, err := CountNodes(ctx, managerMeta); {
	case err == nil:
		h.Nodes = &n
	case !apierrors.IsForbidden(err):
		return h.fail(fmt.Errorf("manager identity: %w", err))
	}
	h.Ready, h.Reason, h.Message = true, v1alpha1.ReasonProbeSucceeded, "both identities reached the member and were authorised"
	return h
}

// ProbeCluster probes a member with the credentials the host holds for it.
func ProbeCluster(ctx context.Context, s *store.Store, c *v1alpha1.Cluster) Health {
	manager, _, err := s.MemberConfig(ctx, c, v1alpha1.IdentityManager)
	if err != nil {
		return Health{Time: time.Now()}.fail(err)
	}
	reader, _, err := s.MemberConfig(ctx, c, v1alpha1.IdentityDNSReader)
	if err != nil {
		return Health{Time: time.Now()}.fail(err)
	}
	return Probe(ctx, manager, reader)
}

func (h Health) fail(err error) Health {
	h.Ready = false
	h.Reason, h.Message = Classify(err)
	return h
}

// Condition returns the probe as the Cluster's Ready condition.
func (h Health) Condition(generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	if h.Ready {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{
		Type:               v1alpha1.ConditionReady,
		Status:             status,
		Reason:             h.Reason,
		Message:            h.Message,
		ObservedGeneration: generation,
		LastTransitionTime: metav1.NewTime(h.Time),
	}
}

// ApplyTo records the probe in a Cluster's status.
func (h Health) ApplyTo(c *v1alpha1.Cluster) {
	meta.SetStatusCondition(&c.Status.Conditions, h.Condition(c.Generation))
	t := metav1.NewTime(h.Time.Truncate(time.Second))
	c.Status.LastProbeTime = &t
	if h.Version != "" {
		c.Status.KubernetesVersion = h.Version
	}
	if h.Nodes != nil {
		n := *h.Nodes
		c.Status.Nodes = &n
	}
	if h.Latency > 0 && (h.Ready || h.Version != "") {
		c.Status.Latency = &metav1.Duration{Duration: h.Latency.Round(time.Millisecond)}
	}
}

// CountNodes returns the number of nodes, asking for metadata only and
// letting the server count what it did not send.
func CountNodes(ctx context.Context, client metadata.Interface) (int32, error) {
	nodes := client.Resource(nodesResource)
	var n int64
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := nodes.List(ctx, opts)
		if err != nil {
			return 0, err
		}
		n += int64(len(list.Items))
		if list.Continue == "" {
			break
		}
		if r := list.RemainingItemCount; r != nil {
			n += *r
			break
		}
		opts.Continue = list.Continue
	}
	return int32(n), nil
}

// Classify turns an error from a member into a condition reason and a
// message for people. Messages carry the server's address and the error,
// never a credential.
func Classify(err error) (reason, message string) {
	msg := err.Error()
	var urlErr *url.Error
	switch {
	case errors.Is(err, store.ErrCredentialMissing), errors.Is(err, store.ErrUntrustedField):
		return v1alpha1.ReasonCredentialsInvalid, msg
	case apierrors.IsUnauthorized(err):
		return v1alpha1.ReasonUnauthorized, msg
	case apierrors.IsForbidden(err):
		return v1alpha1.ReasonForbidden, msg
	case errors.Is(err, context.DeadlineExceeded), apierrors.IsTimeout(err), isTimeout(err):
		return v1alpha1.ReasonTimeout, msg
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNRESET):
		return v1alpha1.ReasonUnreachable, msg
	case errors.As(err, &urlErr):
		var dnsErr *net.DNSError
		var opErr *net.OpError
		if errors.As(err, &dnsErr) || errors.As(err, &opErr) {
			return v1alpha1.ReasonUnreachable, msg
		}
	}
	if strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host") {
		return v1alpha1.ReasonUnreachable, msg
	}
	return v1alpha1.ReasonError, msg
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// withContextTimeout copies cfg and bounds its client by what is left of
// ctx, so that a dead member cannot hold a request past the caller's
// deadline even where a call does not take a context.
func withContextTimeout(ctx context.Context, cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left > 0 && (c.Timeout == 0 || left < c.Timeout) {
			c.Timeout = left
		}
	}
	return c
}
