package lab

// A cluster's kwok nodes: created with the labels of its region and zone,
// and waited for until kwok reports them Ready.

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// TaintFakeNode is the taint of kwok nodes in a cluster that also has real
// nodes: pods go to the real nodes, which run them, unless they tolerate
// it, as a scale test's pods would. It is kwok's own convention for its
// nodes.
var TaintFakeNode = corev1.Taint{Key: kwokNodeAnnotation, Value: "fake", Effect: corev1.TaintEffectNoSchedule}

// createNodes registers the cluster's kwok nodes, labelled with the
// cluster's region and zone, and tainted with TaintFakeNode when the
// cluster has real nodes.
func (c *Cluster) createNodes(ctx context.Context, client kubernetes.Interface) error {
	n := c.Nodes
	if n == 0 {
		n = 3
	}
	var taints []corev1.Taint
	if c.RealNodes > 0 {
		taints = append(taints, TaintFakeNode)
	}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-node-%d", c.Name, i)
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("32"),
			corev1.ResourceMemory: resource.MustParse("256Gi"),
			corev1.ResourcePods:   resource.MustParse("250"),
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name: name,
				Labels: map[string]string{
					"kubernetes.io/hostname": name,
					"kubernetes.io/os":       "linux",
					"kubernetes.io/arch":     "amd64",
					"kubernetes.io/role":     "agent",
					"type":                   "kwok",
					LabelRegion:              c.Region,
					LabelZone:                c.Zone,
				},
				Annotations: map[string]string{
					kwokNodeAnnotation:             "fake",
					"node.alpha.kubernetes.io/ttl": "0",
				},
			},
			Spec: corev1.NodeSpec{Taints: taints},
			Status: corev1.NodeStatus{
				Capacity:    capacity,
				Allocatable: capacity,
				NodeInfo: corev1.NodeSystemInfo{
					Architecture:    "amd64",
					OperatingSystem: "linux",
					KubeletVersion:  "kwok",
				},
			},
		}
		err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
			_, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				return true, nil
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("cluster %s: creating node %s: %w", c.Name, name, err)
		}
	}
	return nil
}

// nodesReady reports whether every node is Ready and free of the taints that
// keep pods off a node that is not ready.
func (c *Cluster) nodesReady(ctx context.Context, client kubernetes.Interface) (bool, error) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return false, err
	}
	if len(nodes.Items) == 0 {
		return false, nil
	}
	for _, n := range nodes.Items {
		ready := false
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false, fmt.Errorf("node %s is not Ready", n.Name)
		}
		for _, t := range n.Spec.Taints {
			if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
				return false, fmt.Errorf("node %s still has taint %s", n.Name, t.Key)
			}
		}
	}
	return true, nil
}
