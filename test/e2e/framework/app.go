package framework

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/lab"
)

// DeployApp creates a sample app in one cluster: a Deployment of replicas
// pods behind a LoadBalancer Service named like it, with the named port http
// on 8080. It returns the Service's load-balancer address once that address
// accepts connections, waiting at most timeout.
func DeployApp(ctx context.Context, client kubernetes.Interface, namespace, name string, replicas int32, timeout time.Duration) (netip.Addr, error) {
	if err := DeployWorkload(ctx, client, namespace, name, replicas); err != nil {
		return netip.Addr{}, err
	}
	if err := ExposeApp(ctx, client, namespace, name, name, nil); err != nil {
		return netip.Addr{}, err
	}
	return WaitForLoadBalancer(ctx, client, namespace, name, timeout)
}

// DeployWorkload creates the sample app's namespace, if need be, and its
// Deployment of replicas pods labelled app=name, listening on 8080.
func DeployWorkload(ctx context.Context, client kubernetes.Interface, namespace, name string, replicas int32) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					// The lab's own sample app: real nodes import it,
					// kwok's fakes need no image.
					Name: name, Image: lab.HelloImage, ImagePullPolicy: corev1.PullIfNotPresent,
					Args:  []string{"-http-port=8080"},
					Env: []corev1.EnvVar{
						{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
						{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					},
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	_, err := client.AppsV1().Deployments(namespace).Create(ctx, d, metav1.CreateOptions{})
	return err
}

// ExposeApp creates a LoadBalancer Service named service, with the given
// annotations, for the pods of the sample app app: the named port http on
// 8080.
func ExposeApp(ctx context.Context, client kubernetes.Interface, namespace, app, service string, annotations map[string]string) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: service, Annotations: annotations},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	_, err := client.CoreV1().Services(namespace).Create(ctx, svc, metav1.CreateOptions{})
	return err
}

// WaitForLoadBalancer returns the load-balancer address of a Service once
// it accepts connections on 8080, waiting at most timeout.
func WaitForLoadBalancer(ctx context.Context, client kubernetes.Interface, namespace, service string, timeout time.Duration) (netip.Addr, error) {
	var addr netip.Addr
	err := Poll(ctx, timeout, 100*time.Millisecond, func(ctx context.Context) error {
		s, err := client.CoreV1().Services(namespace).Get(ctx, service, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Status.LoadBalancer.Ingress) == 0 {
			return errors.New("no load-balancer address")
		}
		if addr, err = netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", netip.AddrPortFrom(addr, 8080).String(), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return addr, err
}
