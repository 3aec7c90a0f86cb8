//go:build e2e

// Package geo_test checks coredns-fed's geo- and latency-aware answers end
// to end: a federation of real lab clusters joined with kubectl fed, the
// sample app in every member behind several Services (one per policy), a
// small .mmdb placing the documentation ranges near the lab's regions, and
// two coredns-fed instances on loopback, asked over UDP with ECS.
package geo_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/geodb"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "demo.example.com."
	appNS      = "demo"
	appName    = "web"
)

// The Services of the sample app, each with the annotations of one policy.
// web follows the Corefile's policy (geo on server a, latency on b).
var services = map[string]map[string]string{
	"web": nil,
	"lat": {"kfed.dev/dns-policy": "latency"},
	"wtd": {"kfed.dev/dns-policy": "weighted", "kfed.dev/dns-weights": "usa=3,eur=1"},
	"fo":  {"kfed.dev/dns-policy": "failover", "kfed.dev/dns-failover": "eur,jpn,usa"},
}

// The probe sources of the two servers: the lab's load balancer can delay
// its answers to one of them.
var (
	sourceA = netip.MustParseAddr("127.0.0.11")
	sourceB = netip.MustParseAddr("127.0.0.12")
)

var (
	shared *lab.Lab
	// serverA answers with policy geo and the test database; serverB with
	// policy latency. Their probes see different round trips: a is fast
	// to jpn only, b to usa only.
	serverA, serverB *dnsServer
	geoPath          string
	// lbAddr is each Service's load-balancer address, by Service and
	// member.
	lbAddr = map[string]map[string]netip.Addr{}
	// clusterOf maps load-balancer addresses to members.
	clusterOf = map[string]string{}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kfed-e2e-geo-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keep := true
	defer func() {
		if keep {
			fmt.Fprintf(os.Stderr, "logs kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	shared, err = lab.Start(ctx, lab.Options{Dir: filepath.Join(dir, "lab"), Log: os.Stderr})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the lab: %v\n", err)
		return 1
	}
	defer func() {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the lab: %v\n", err)
		}
	}()

	err = setUp(ctx, dir)
	defer func() {
		for _, s := range []*dnsServer{serverA, serverB} {
			if s != nil {
				s.stop()
			}
		}
	}()
	if err != nil {
		fmt.Fprintf(os.Stderr, "setting up: %v\n", err)
		return 1
	}
	code := m.Run()
	keep = code != 0
	return code
}

// setUp makes the federation, the sample app, the database, the probe
// delays and the two servers.
func setUp(ctx context.Context, dir string) error {
	kubeconfig := []string{"--kubeconfig", shared.Kubeconfig}
	if out, err := kubectlFed(ctx, append([]string{"init", federation, "--context", "usa", "--domain", strings.TrimSuffix(domain, ".")}, kubeconfig...)...); err != nil {
		return fmt.Errorf("kubectl fed init: %v\n%s", err, out)
	}
	for _, c := range shared.Clusters {
		if out, err := kubectlFed(ctx, append([]string{"join", c.Name, "--context", "usa", "--cluster-context", c.Name}, kubeconfig...)...); err != nil {
			return fmt.Errorf("kubectl fed join %s: %v\n%s", c.Name, err, out)
		}
	}
	for _, c := range shared.Clusters {
		addrs, err := deployApp(ctx, c.Client())
		if err != nil {
			return fmt.Errorf("sample app in %s: %w", c.Name, err)
		}
		for svc, a := range addrs {
			if lbAddr[svc] == nil {
				lbAddr[svc] = map[string]netip.Addr{}
			}
			lbAddr[svc][c.Name] = a
			clusterOf[a.String()] = c.Name
		}
	}

	// Server a's probes are slow to usa and eur, b's to jpn and eur.
	slow := map[netip.Addr][]string{sourceA: {"usa", "eur"}, sourceB: {"jpn", "eur"}}
	for from, clusters := range slow {
		for _, c := range clusters {
			for svc := range services {
				if err := shared.SetLoadBalancerDelay(lbAddr[svc][c], from, 100*time.Millisecond); err != nil {
					return err
				}
			}
		}
	}

	geoPath = filepath.Join(dir, "cities.mmdb")
	if err := geodb.Write(geoPath, geodb.Lab()); err != nil {
		return err
	}
	// The table sends Tokyo to usa, which geography would not.
	table := `latency ap-northeast-1 us-east-1 10ms
        latency ap-northeast-1 ap-northeast-1 50ms
        latency ap-northeast-1 eu-west-1 200ms`
	var err error
	serverA, err = startServer(ctx, dir, "a", fmt.Sprintf("policy geo\n        geoip %s\n        geoip_reload 200ms\n        probe_source %s\n        %s", geoPath, sourceA, table))
	if err != nil {
		return err
	}
	serverB, err = startServer(ctx, dir, "b", fmt.Sprintf("policy latency\n        probe_source %s\n        %s", sourceB, table))
	if err != nil {
		return err
	}
	for _, s := range []*dnsServer{serverA, serverB} {
		// Ready when fo answers with eur, the first of its order: the
		// index has the annotations and every member is up.
		if err := waitUntil(ctx, 60*time.Second, func() bool {
			r, err := s.query(name("fo"), dns.TypeA, "")
			return err == nil && strings.Join(clusters(r), ",") == "eur"
		}); err != nil {
			return fmt.Errorf("server %s: %w", s.name, err)
		}
	}
	return nil
}

// kubectlFed runs `kubectl fed`, or kubectl-fed when kubectl is not on
// PATH.
func kubectlFed(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var cmd *exec.Cmd
	if _, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.CommandContext(ctx, "kubectl", append([]string{"fed"}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, "kubectl-fed", args...)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// deployApp creates the sample app in a member: a Deployment of two pods
// behind one LoadBalancer Service per entry of services, probed over HTTP
// (so that a probe's duration includes the load balancer's answer). It
// returns each Service's load-balancer address once it serves.
func deployApp(ctx context.Context, client kubernetes.Interface) (map[string]netip.Addr, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNS}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	labels := map[string]string{"app": appName}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: appName},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
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
	if _, err := client.AppsV1().Deployments(appNS).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	out := map[string]netip.Addr{}
	for svcName, annotations := range services {
		ann := map[string]string{"kfed.dev/health-check-path": "/"}
		for k, v := range annotations {
			ann[k] = v
		}
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: svcName, Annotations: ann},
			Spec: corev1.ServiceSpec{
				Type:     corev1.ServiceTypeLoadBalancer,
				Selector: labels,
				Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}},
			},
		}
		if _, err := client.CoreV1().Services(appNS).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
	}
	for svcName := range services {
		var addr netip.Addr
		err := waitUntil(ctx, 60*time.Second, func() bool {
			s, err := client.CoreV1().Services(appNS).Get(ctx, svcName, metav1.GetOptions{})
			if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
				return false
			}
			addr, err = netip.ParseAddr(s.Status.LoadBalancer.Ingress[0].IP)
			if err != nil {
				return false
			}
			c, err := net.DialTimeout("tcp", netip.AddrPortFrom(addr, 8080).String(), time.Second)
			if err != nil {
				return false
			}
			c.Close()
			return true
		})
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", svcName, err)
		}
		out[svcName] = addr
	}
	return out, nil
}

// dnsServer is a running coredns-fed.
type dnsServer struct {
	*framework.CoreDNS
	name string
	addr string
}

func (s *dnsServer) stop() { s.Stop() }

// startServer starts coredns-fed on a free loopback port with a Corefile
// for the lab's federation and the fed options given.
func startServer(ctx context.Context, dir, name, options string) (*dnsServer, error) {
	port, err := framework.FreeDNSPort()
	if err != nil {
		return nil, err
	}
	corefile := fmt.Sprintf(`%s {
    bind 127.0.0.1
    fed %s {
        kubeconfig %s usa
        probe_interval 300ms
        probe_timeout 300ms
        %s
    }
    errors
}
`, domain, federation, shared.Kubeconfig, options)
	c, err := framework.StartCoreDNS(dir, name, corefile, port)
	if err != nil {
		return nil, err
	}
	return &dnsServer{CoreDNS: c, name: name, addr: c.Addr}, nil
}

var waitUntil = framework.WaitUntil
