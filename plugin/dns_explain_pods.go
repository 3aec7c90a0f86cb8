package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/explain"
)

// The coredns-fed pods are asked through the API server's pod proxy, with
// the caller's own credentials: only those allowed pods/proxy in
// kfed-system can ask, and the explain port is in no Service.

// explainPortName is the name of the pod's container port of the explain
// listener (deploy/coredns-fed/deployment.yaml).
const explainPortName = "explain"

// errNoPods is podTargets' error for a cluster that runs no coredns-fed.
var errNoPods = errors.New("no running coredns-fed pod")

// podTargets returns the running coredns-fed pods among pods, those of a
// cluster, as explain targets named "NAMESPACE/POD in CLUSTER".
func podTargets(ctx context.Context, pods corev1client.PodInterface, cluster string, warn io.Writer) ([]explainTarget, error) {
	running, err := runningFedPods(ctx, pods)
	if err != nil {
		return nil, err
	}
	var out []explainTarget
	for _, p := range running {
		port, named := podPort(p, explainPortName, explainPort)
		if !named {
			fmt.Fprintf(warn, "Warning: pod %s/%s declares no %q port: asking port %d\n", p.Namespace, p.Name, explainPortName, port)
		}
		name, portStr := p.Name, strconv.Itoa(port)
		out = append(out, explainTarget{label: p.Namespace + "/" + p.Name + " in " + cluster, get: func(ctx context.Context, params url.Values) ([]byte, error) {
			return proxyGet(ctx, pods, name, portStr, params)
		}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in %s of %s", errNoPods, v1alpha1.Namespace, cluster)
	}
	return out, nil
}

// runningFedPods lists the coredns-fed pods that run and are not going.
func runningFedPods(ctx context.Context, pods corev1client.PodInterface) ([]*corev1.Pod, error) {
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: corednsFedPods})
	if err != nil {
		return nil, fmt.Errorf("listing the coredns-fed pods: %w", err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		if p := &list.Items[i]; p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// podProxy is the pods client's proxy.
type podProxy interface {
	ProxyGet(scheme, name, port, path string, params map[string]string) rest.ResponseWrapper
}

// proxyGet asks a pod's listener through the API server:
// /api/v1/namespaces/NS/pods/http:NAME:PORT/proxy/explain?...
func proxyGet(ctx context.Context, pods podProxy, name, port string, params url.Values) ([]byte, error) {
	p := map[string]string{}
	for k := range params {
		p[k] = params.Get(k)
	}
	body, err := pods.ProxyGet("http", name, port, explain.Path, p).DoRaw(ctx)
	if err == nil {
		return body, nil
	}
	if apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("%w (asking a pod needs get on pods/proxy in %s)", err, v1alpha1.Namespace)
	}
	// The listener's own error, passed on by the proxy.
	if lerr := listenerError(body); lerr != nil {
		return nil, lerr
	}
	return nil, err
}
