//go:build e2e

// Package deploy_test checks what installs coredns-fed: the
// deploy/coredns-fed kustomize base against a real API server, coredns-fed
// running with the base's ServiceAccount token, and `kubectl fed dns
// install` and `kubectl fed dns check` through the real kubectl. One lab
// cluster, usa, is both the host and the only member.
package deploy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "demo.example.com"
	host       = "usa"
	appNS      = "demo"
	appName    = "web"
)

var (
	testLab *lab.Lab
	kubectl *framework.Kubectl
	// appAddr is the sample app's load-balancer address.
	appAddr netip.Addr
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	l, err := framework.StartLab("deploy", []lab.ClusterSpec{{Name: host, Region: "us-east-1", Zone: "us-east-1a", Nodes: 2}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := l.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the lab:", err)
		}
	}()
	testLab = l
	if kubectl, err = framework.NewKubectl(l.Kubeconfig); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := setUp(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "setting up:", err)
		return 1
	}
	return m.Run()
}

func setUp(ctx context.Context) error {
	for _, args := range [][]string{
		{"fed", "init", federation, "--context", host, "--domain", domain},
		{"fed", "join", host, "--context", host, "--cluster-context", host},
	} {
		res, err := kubectl.Run(ctx, args...)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("%s", res)
		}
	}
	var err error
	appAddr, err = deployApp(ctx, testLab.Cluster(host).Client())
	return err
}

// deployApp creates a Deployment behind a LoadBalancer Service and returns
// the Service's address once it serves.
func deployApp(ctx context.Context, client kubernetes.Interface) (netip.Addr, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return netip.Addr{}, err
	}
	labels := map[string]string{"app": appName}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: appName},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: appName, Image: "registry.k8s.io/e2e-test-images/agnhost:2.53",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(appNS).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return netip.Addr{}, err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: appName},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}},
		},
	}
	if _, err := client.CoreV1().Services(appNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return netip.Addr{}, err
	}
	var addr netip.Addr
	err := framework.Poll(ctx, 90*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		s, err := client.CoreV1().Services(appNS).Get(ctx, appName, metav1.GetOptions{})
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

// server is a coredns-fed on a loopback port.
type server struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer runs coredns-fed for the federation, reaching the host with
// kubeconfig (its context usa, or its current one when context is "").
func startServer(t *testing.T, kubeconfig, context, nsAddr string) *server {
	t.Helper()
	bin, err := exec.LookPath("coredns-fed")
	if err != nil {
		t.Fatal("coredns-fed is not on PATH; run `make e2e`")
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	corefile := fmt.Sprintf(`%s {
    bind 127.0.0.1
    fed %s {
        kubeconfig %s %s
        ns ns1.%s %s
    }
    errors
}
`, domain, federation, kubeconfig, context, domain, nsAddr)
	conf := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(conf, []byte(corefile), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "coredns-fed.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-conf", conf, "-dns.port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("coredns-fed at %s logged:\n%s", s.addr, log)
			}
		}
	})
	return s
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// freePort returns a loopback port free for both UDP and TCP.
func freePort() (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("no loopback port free for both UDP and TCP")
}
