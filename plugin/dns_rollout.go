package plugin

// Waiting for coredns-fed's pods: install is done in a cluster once its
// Deployment has rolled out, as `kubectl rollout status` would report, and
// says why when it does not.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/poll"
)

var (
	deploymentsResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	podsResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
)

// waitForRollout waits, up to --timeout, until every replica of the
// coredns-fed Deployment in c runs the template install applied and is
// available. When it gives up, the error names the pods that are not ready
// and why: an image that cannot be pulled, a container that crashes.
func (o *DNSInstallOptions) waitForRollout(ctx context.Context, c *dnsCluster) error {
	var d appsv1.Deployment
	err := poll.Until(ctx, time.Second, o.Timeout, func(ctx context.Context) (bool, error) {
		u, err := c.dynamic.Resource(deploymentsResource).Namespace(v1alpha1.Namespace).Get(ctx, corednsFedName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			return false, err
		}
		return rolledOut(&d), nil
	})
	if err == nil {
		return nil
	}
	if !poll.IsTimeout(err) {
		return fmt.Errorf("waiting for the Deployment %s/%s: %w", v1alpha1.Namespace, corednsFedName, err)
	}
	why := o.podProblems(ctx, c)
	return fmt.Errorf("the Deployment %s/%s has %d of %d replicas updated and available after %s%s; see `kubectl describe pods -n %s -l %s`",
		v1alpha1.Namespace, corednsFedName, d.Status.AvailableReplicas, replicasOf(&d), o.Timeout, why, v1alpha1.Namespace, corednsFedPods)
}

// rolledOut reports whether the controller has seen the Deployment's last
// change and every replica runs it and is available.
func rolledOut(d *appsv1.Deployment) bool {
	s := d.Status
	want := replicasOf(d)
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want &&
		s.Replicas == want && s.AvailableReplicas == want
}

func replicasOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// podProblems describes why coredns-fed's pods in c are not ready, as
// ": pod p: reason (message)" parts; empty when it cannot tell.
func (o *DNSInstallOptions) podProblems(ctx context.Context, c *dnsCluster) string {
	list, err := c.dynamic.Resource(podsResource).Namespace(v1alpha1.Namespace).List(ctx,
		metav1.ListOptions{LabelSelector: corednsFedPods})
	if err != nil {
		return ""
	}
	var parts []string
	for _, u := range list.Items {
		var p corev1.Pod
		if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p) != nil || p.DeletionTimestamp != nil {
			continue
		}
		if why := podProblem(&p); why != "" {
			parts = append(parts, "pod "+p.Name+": "+why)
		}
	}
	sort.Strings(parts)
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// podProblem says why a pod is not ready, or "" when it is.
func podProblem(p *corev1.Pod) string {
	for _, cs := range p.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && w.Reason != "" {
			return strings.TrimSpace(w.Reason + " " + parenthesized(w.Message))
		}
		if t := cs.LastTerminationState.Terminated; t != nil && !cs.Ready {
			return strings.TrimSpace(fmt.Sprintf("restarted %d times, last %s (exit %d)", cs.RestartCount, t.Reason, t.ExitCode))
		}
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
			return strings.TrimSpace("not scheduled " + parenthesized(cond.Message))
		}
		if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionTrue {
			return "not ready yet"
		}
	}
	return ""
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
