//go:build e2e

package lab_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/lab"
)

func TestClustersHaveTheirTopology(t *testing.T) {
	ctx := context.Background()
	want := map[string][2]string{
		"usa": {"us-east-1", "us-east-1a"},
		"eur": {"eu-west-1", "eu-west-1a"},
		"jpn": {"ap-northeast-1", "ap-northeast-1a"},
	}
	for name, place := range want {
		c := shared.Cluster(name)
		if c == nil {
			t.Fatalf("cluster %s missing from the lab", name)
		}
		nodes, err := c.Client().CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%s: listing nodes: %v", name, err)
		}
		if len(nodes.Items) != 3 {
			t.Errorf("%s: %d nodes, want 3", name, len(nodes.Items))
		}
		for _, n := range nodes.Items {
			if got := [2]string{n.Labels[lab.LabelRegion], n.Labels[lab.LabelZone]}; got != place {
				t.Errorf("%s: node %s is in %v, want %v", name, n.Name, got, place)
			}
			if n.Spec.Unschedulable || len(n.Spec.Taints) > 0 {
				t.Errorf("%s: node %s is not schedulable: taints %v", name, n.Name, n.Spec.Taints)
			}
		}
		v, err := c.Client().Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("%s: server version: %v", name, err)
		}
		if !strings.HasPrefix(v.GitVersion, "v1.35.") {
			t.Errorf("%s: server version %s, want v1.35.x to match the client libraries", name, v.GitVersion)
		}
	}
}

// TestServiceAccountTokens checks what join depends on: a token Secret made
// by hand is filled in by the token controller, with the cluster's CA, and
// the token it holds authenticates.
func TestServiceAccountTokens(t *testing.T) {
	ctx := context.Background()
	c := shared.Cluster("eur")
	client := c.Client()
	ns := createNamespace(t, client, "tokens")
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "reader-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "reader"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var secret *corev1.Secret
	poll(t, 30*time.Second, "the token controller to fill reader-token", func() (bool, error) {
		var err error
		secret, err = client.CoreV1().Secrets(ns).Get(ctx, "reader-token", metav1.GetOptions{})
		return err == nil && len(secret.Data[corev1.ServiceAccountTokenKey]) > 0, err
	})
	if string(secret.Data[corev1.ServiceAccountRootCAKey]) != string(c.CAData) {
		t.Errorf("token Secret's ca.crt is not the cluster's CA")
	}
	cfg := c.RESTConfig()
	cfg.BearerToken = string(secret.Data[corev1.ServiceAccountTokenKey])
	sa := kubernetes.NewForConfigOrDie(cfg)
	review, err := sa.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err == nil {
		if got, want := review.Status.UserInfo.Username, "system:serviceaccount:"+ns+":reader"; got != want {
			t.Errorf("token authenticates as %q, want %q", got, want)
		}
	} else {
		t.Errorf("SelfSubjectReview with the Secret's token: %v", err)
	}
	// TokenRequest works too.
	tr, err := client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil || tr.Status.Token == "" {
		t.Errorf("TokenRequest: %v", err)
	}
	// RBAC is on: the fresh ServiceAccount may not list Secrets.
	if _, err := sa.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("listing Secrets as a ServiceAccount with no role: got %v, want forbidden", err)
	}
}

// TestDataPathAndOutage walks the foundation issue's check list in one
// cluster: a Deployment behind a LoadBalancer Service answers over HTTP,
// stops answering at zero replicas and when its address is taken down, and
// the cluster's API server can fail alone.
func TestDataPathAndOutage(t *testing.T) {
	ctx := context.Background()
	usa := shared.Cluster("usa")
	client := usa.Client()
	ns := createNamespace(t, client, "datapath")

	// 1. A Deployment and a LoadBalancer Service.
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// 2. Running pods and ready endpoints.
	poll(t, 60*time.Second, "3 Running pods", func() (bool, error) {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				running++
			}
		}
		return running == 3, nil
	})
	poll(t, 60*time.Second, "3 ready endpoints", func() (bool, error) {
		return readyEndpoints(ctx, client, ns, "web") == 3, nil
	})

	// 3. The load-balancer address answers over HTTP, naming the cluster.
	var addr netip.Addr
	poll(t, 30*time.Second, "a load-balancer address", func() (bool, error) {
		s, err := client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return false, err
		}
		addr, err = netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP)
		return err == nil, err
	})
	if !usa.LoadBalancerPool.Contains(addr) {
		t.Fatalf("address %s is outside usa's pool %s", addr, usa.LoadBalancerPool)
	}
	url := fmt.Sprintf("http://%s:8080/", addr)
	var body string
	poll(t, 30*time.Second, "an HTTP answer from "+url, func() (bool, error) {
		var err error
		body, err = get(url)
		return err == nil, nil
	})
	for _, want := range []string{"cluster: usa\n", "namespace: " + ns + "\n", "service: web\n", "pod: web-"} {
		if !strings.Contains(body, want) {
			t.Errorf("answer %q lacks %q", body, want)
		}
	}

	// 4. At zero replicas the connection is refused.
	scale(t, client, ns, "web", 0)
	poll(t, 60*time.Second, "connection refused at zero replicas", func() (bool, error) {
		_, err := get(url)
		return errors.Is(err, syscall.ECONNREFUSED), nil
	})
	scale(t, client, ns, "web", 2)
	poll(t, 60*time.Second, "answers again at two replicas", func() (bool, error) {
		_, err := get(url)
		return err == nil, nil
	})

	// A data-path outage: the address taken down refuses, then answers again.
	if err := shared.SetLoadBalancerDown(addr, true); err != nil {
		t.Fatal(err)
	}
	if _, err := get(url); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("address down: got %v, want connection refused", err)
	}
	if err := shared.SetLoadBalancerDown(addr, false); err != nil {
		t.Fatal(err)
	}
	poll(t, 10*time.Second, "answers after the address is back up", func() (bool, error) {
		_, err := get(url)
		return err == nil, nil
	})
	if err := shared.SetLoadBalancerDown(netip.MustParseAddr("127.0.0.1"), true); err == nil {
		t.Errorf("taking down an address outside every pool succeeded; want an error")
	}

	// 5. A cluster outage: usa's API server stops, the others keep working,
	// and usa comes back.
	if err := usa.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !usa.APIServerRunning() {
			usa.StartAPIServer(context.Background())
		}
	})
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := client.CoreV1().Namespaces().Get(short, ns, metav1.GetOptions{})
	cancel()
	if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("usa's API server stopped: got %v, want connection refused", err)
	}
	for _, name := range []string{"eur", "jpn"} {
		if _, err := shared.Cluster(name).Client().CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("%s should keep working while usa is down: %v", name, err)
		}
	}
	// The data path of a cluster whose control plane fails keeps serving.
	if _, err := get(url); err != nil {
		t.Errorf("the load balancer should keep serving during a control-plane outage: %v", err)
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := usa.StartAPIServer(startCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Errorf("usa after restart: %v", err)
	}
}

func createNamespace(t *testing.T, client kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The namespace's default ServiceAccount is needed before pods can be made.
	poll(t, 30*time.Second, "the default ServiceAccount in "+ns.Name, func() (bool, error) {
		_, err := client.CoreV1().ServiceAccounts(ns.Name).Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, nil
	})
	return ns.Name
}

func scale(t *testing.T, client kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	// A patch carries no resourceVersion, so it cannot lose a race with
	// the controllers that update the Deployment's status.
	patch := []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas))
	if _, err := client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatal(err)
	}
}

func readyEndpoints(ctx context.Context, client kubernetes.Interface, ns, svc string) int {
	slices, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		return -1
	}
	n := 0
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready == nil || *ep.Conditions.Ready {
				n++
			}
		}
	}
	return n
}

var httpClient = &http.Client{
	Timeout: 3 * time.Second,
	// A new connection every time, so a closed listener shows at once.
	Transport: &http.Transport{DisableKeepAlives: true},
}

func get(url string) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("status %s", resp.Status)
	}
	return string(b), nil
}

// poll waits, at most timeout, for cond, and fails the test naming what it
// waited for and the last error.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last error: %v)", what, err, last)
	}
}
