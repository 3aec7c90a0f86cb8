package plugin

// Waiting for the load-balancer addresses of coredns-fed's Services, which
// are the nameservers' addresses.

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/poll"
)

var servicesResource = schema.GroupVersionResource{Version: "v1", Resource: "services"}

// loadBalancerIngress reads the ingress of a cluster's coredns-fed Service.
func loadBalancerIngress(ctx context.Context, c *dnsCluster) ([]corev1.LoadBalancerIngress, error) {
	u, err := c.dynamic.Resource(servicesResource).Namespace(v1alpha1.Namespace).Get(ctx, corednsFedName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var svc corev1.Service
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &svc); err != nil {
		return nil, err
	}
	return svc.Status.LoadBalancer.Ingress, nil
}

// waitForLoadBalancer waits, up to --timeout, until a cluster's
// coredns-fed Service has a load-balancer address, and returns its
// ingress.
func (o *DNSInstallOptions) waitForLoadBalancer(ctx context.Context, c *dnsCluster) ([]corev1.LoadBalancerIngress, error) {
	var ingress []corev1.LoadBalancerIngress
	err := poll.Until(ctx, time.Second, o.Timeout, func(ctx context.Context) (bool, error) {
		var err error
		ingress, err = loadBalancerIngress(ctx, c)
		return err == nil && len(ingress) > 0, err
	})
	svc := v1alpha1.Namespace + "/" + corednsFedName
	switch {
	case poll.IsTimeout(err) && errors.Unwrap(err) == nil:
		return nil, fmt.Errorf("the Service %s got no load-balancer address within %s: does the cluster have a load-balancer controller? See `kubectl describe service -n %s %s`",
			svc, o.Timeout, v1alpha1.Namespace, corednsFedName)
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("the Service %s was deleted while install waited for its load-balancer address: run install again: %w", svc, err)
	case err != nil:
		return nil, fmt.Errorf("waiting for the load-balancer address of the Service %s: %w", svc, err)
	}
	return ingress, nil
}
