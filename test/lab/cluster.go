package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Standard node labels that carry a node's place in the world.
const (
	LabelRegion = "topology.kubernetes.io/region"
	LabelZone   = "topology.kubernetes.io/zone"
)

// kwok manages only nodes carrying this annotation.
const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// ClusterSpec describes one lab cluster.
type ClusterSpec struct {
	// Name names the cluster and its kubeconfig context.
	Name string
	// Region and Zone label the cluster's nodes.
	Region string
	Zone   string
	// Nodes is the number of kwok nodes; 0 means 3.
	Nodes int
	// RealNodes is the number of nodes that run pods for real, each with its
	// own kubelet, containerd, bridge and pod subnet. It needs root and
	// Debian's containerd, runc and containernetworking-plugins (see
	// RealNodesUnsupported); 0, the default, runs none.
	RealNodes int
}

// DefaultClusters returns the three clusters `make lab-up` starts.
func DefaultClusters() []ClusterSpec {
	return []ClusterSpec{
		{Name: "usa", Region: "us-east-1", Zone: "us-east-1a"},
		{Name: "eur", Region: "eu-west-1", Zone: "eu-west-1a"},
		{Name: "jpn", Region: "ap-northeast-1", Zone: "ap-northeast-1a"},
	}
}

// Cluster is one running lab cluster: its own etcd, API server, controller
// manager, scheduler, kwok and loopback load balancer, all on 127.0.0.1.
type Cluster struct {
	ClusterSpec

	// Server is the API server's URL, as kubectl and pods reach it: on
	// 127.0.0.1, or, when the cluster has real nodes, on the address the API
	// server advertises on the first node's bridge, which the lab relays to
	// it. The lab's kubeconfig names it, so that what kfed writes from that
	// kubeconfig into Secrets (a member's address, the host's) works in pods.
	Server string
	// CAData is the PEM of the cluster's CA, which signed the API server's
	// serving certificate.
	CAData []byte
	// Token is a bearer token of a cluster administrator (system:masters).
	Token string
	// ServiceCIDR and PodCIDR are the cluster's own address ranges; no two
	// clusters of a lab share them.
	ServiceCIDR string
	PodCIDR     string
	// LoadBalancerPool is where Services of type LoadBalancer get addresses.
	LoadBalancerPool netip.Prefix
	// Minimal clusters run only etcd and an API server, and a controller
	// manager if minimalControllers names any controller.
	Minimal bool
	// Dir holds the cluster's certificates, data and logs.
	Dir string

	bin   binaries
	log   io.Writer
	index int
	// minimalControllers are the controllers of a Minimal cluster.
	minimalControllers []string
	pool               *poolClaim
	// realNodes run pods for real; images are the tarballs every real
	// node imports at start; apiForward relays from the pod network to the
	// API server.
	realNodes  []*realNode
	images     []string
	apiForward *tcpForwarder
	// serviceClaim holds the Service range of a cluster with real nodes.
	serviceClaim *poolClaim
	// poolRouted is set while addLocalRoute's route for the load-balancer
	// pool is in place.
	poolRouted bool
	// loopback is the API server's URL on 127.0.0.1, which the lab's own
	// components and clients use.
	loopback string

	etcd, apiserver, controllerManager, scheduler, kwok *process

	lb       *loadBalancer
	lbCancel context.CancelFunc
	lbDone   chan struct{}

	apiMu sync.Mutex // serialises StopAPIServer, StartAPIServer, FreezeAPIServer and ThawAPIServer
}

// RESTConfig returns a client configuration for the cluster's administrator.
// Every call returns a new copy.
func (c *Cluster) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            c.loopback,
		BearerToken:     c.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		QPS:             50,
		Burst:           100,
		Timeout:         30 * time.Second,
	}
}

// Client returns a typed client for the cluster's administrator.
func (c *Cluster) Client() kubernetes.Interface {
	return kubernetes.NewForConfigOrDie(c.RESTConfig())
}

func (c *Cluster) path(name string) string { return filepath.Join(c.Dir, name) }

// prepare writes the cluster's certificates, keys, token file and
// kubeconfig, and picks its ports.
func (c *Cluster) prepare() error {
	if err := os.MkdirAll(c.path("etcd"), 0o700); err != nil {
		return err
	}
	ca, err := newCertAuthority("kfed-lab-" + c.Name + "-ca")
	if err != nil {
		return err
	}
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]

	c.ServiceCIDR = fmt.Sprintf("10.%d.0.0/16", 96+c.index)
	// The API server is advertised on loopback, or where pods reach it when
	// the cluster has real nodes.
	advertise, err := c.prepareRealNodes()
	if err != nil {
		return err
	}
	// The first address of the service range is the in-cluster API address.
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IP(c.serviceIP().AsSlice())}
	if !advertise.IsLoopback() {
		ips = append(ips, net.IP(advertise.AsSlice()))
	}
	crt, key, err := ca.issueServing("kube-apiserver", ips,
		[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"})
	if err != nil {
		return err
	}
	saKey, saPub, err := newServiceAccountKey()
	if err != nil {
		return err
	}
	c.Token = randomToken()
	c.CAData = ca.certPEM
	c.loopback = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	c.Server = "https://" + net.JoinHostPort(advertise.String(), strconv.Itoa(apiPort))
	c.PodCIDR = fmt.Sprintf("10.%d.0.0/16", 160+c.index)

	// The admin token belongs to system:masters; the lab's own components use
	// it too, which keeps the lab simple and does not affect what it tests.
	tokens := fmt.Sprintf("%s,kfed-lab-admin,kfed-lab-admin,\"system:masters\"\n", c.Token)
	if err := writeFiles(c.Dir, map[string][]byte{
		"ca.crt":          ca.certPEM,
		"apiserver.crt":   crt,
		"apiserver.key":   key,
		"sa.key":          saKey,
		"sa.pub":          saPub,
		"tokens.csv":      []byte(tokens),
		"etcd-client-url": []byte(fmt.Sprintf("http://127.0.0.1:%d", etcdClient)),
	}); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*c.kubeconfig(), c.path("kubeconfig")); err != nil {
		return err
	}
	realNodeArgs, err := c.writeRealNodes(ca)
	if err != nil {
		return err
	}

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	c.etcd = newProcess(c.Name+"/etcd", c.bin.etcd, c.path("etcd.log"),
		"--name="+c.Name,
		"--data-dir="+c.path("etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster="+c.Name+"="+peerURL,
		"--unsafe-no-fsync",
		"--log-level=warn",
	)
	c.apiserver = newProcess(c.Name+"/kube-apiserver", c.bin.apiserver, c.path("kube-apiserver.log"), append([]string{
		"--etcd-servers=" + etcdURL,
		"--secure-port=" + strconv.Itoa(apiPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=" + advertise.String(),
		"--cert-dir=" + c.path("certs"),
		"--tls-cert-file=" + c.path("apiserver.crt"),
		"--tls-private-key-file=" + c.path("apiserver.key"),
		"--service-cluster-ip-range=" + c.ServiceCIDR,
		"--authorization-mode=Node,RBAC",
		"--token-auth-file=" + c.path("tokens.csv"),
		"--service-account-key-file=" + c.path("sa.pub"),
		"--service-account-signing-key-file=" + c.path("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--allow-privileged=true",
		"--enable-priority-and-fairness=false",
		"--profiling=false",
	}, realNodeArgs...)...)
	// Controllers that need a cloud, storage or a kubelet are left out.
	enabled := controllers
	if c.Minimal {
		if len(c.minimalControllers) == 0 {
			return nil
		}
		enabled = strings.Join(c.minimalControllers, ",")
	}
	c.controllerManager = newProcess(c.Name+"/kube-controller-manager", c.bin.controllerManager, c.path("kube-controller-manager.log"),
		"--kubeconfig="+c.path("kubeconfig"),
		"--service-account-private-key-file="+c.path("sa.key"),
		"--root-ca-file="+c.path("ca.crt"),
		"--cluster-name="+c.Name,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--controllers="+enabled,
		"--profiling=false",
	)
	if c.Minimal {
		return nil
	}
	c.scheduler = newProcess(c.Name+"/kube-scheduler", c.bin.scheduler, c.path("kube-scheduler.log"),
		"--kubeconfig="+c.path("kubeconfig"),
		"--leader-elect=false",
		"--secure-port=0",
		"--profiling=false",
	)
	c.kwok = newProcess(c.Name+"/kwok", c.bin.kwok, c.path("kwok.log"),
		"--kubeconfig="+c.path("kubeconfig"),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+kwokNodeAnnotation+"=fake",
		"--cidr="+fmt.Sprintf("10.%d.0.1/16", 160+c.index),
		"--node-ip="+fmt.Sprintf("10.%d.255.1", 160+c.index),
		// Leases are how real kubelets heartbeat; they cost less than status updates.
		"--node-lease-duration-seconds=40",
	)
	return nil
}

// controllers is the controller manager's --controllers: everything but what
// needs a cloud provider, real storage or a kubelet.
const controllers = "*,-cloud-node-lifecycle-controller,-node-route-controller,-service-lb-controller," +
	"-persistentvolume-binder-controller,-persistentvolume-attach-detach-controller," +
	"-persistentvolume-expander-controller,-persistentvolume-protection-controller," +
	"-persistentvolumeclaim-protection-controller,-ephemeral-volume-controller," +
	"-node-ipam-controller"

// kubeconfig returns a configuration with one context named like the
// cluster, for its administrator.
// kubeconfig is the configuration of the lab's own components, the
// kubelets included, which reach the API server on loopback.
func (c *Cluster) kubeconfig() *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	c.addTo(cfg, c.loopback)
	cfg.CurrentContext = c.Name
	return cfg
}

// addTo adds the cluster at server, its administrator and a context, all
// named like the cluster, to cfg.
func (c *Cluster) addTo(cfg *clientcmdapi.Config, server string) {
	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = c.CAData
	user := clientcmdapi.NewAuthInfo()
	user.Token = c.Token
	ctx := clientcmdapi.NewContext()
	ctx.Cluster, ctx.AuthInfo = c.Name, c.Name
	cfg.Clusters[c.Name] = cluster
	cfg.AuthInfos[c.Name] = user
	cfg.Contexts[c.Name] = ctx
}

// start runs the cluster's programs and waits until it is Ready: the API
// server ready, every node Ready and schedulable, the default ServiceAccount
// present and the load balancer synced.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.etcd.start(); err != nil {
		return err
	}
	if err := c.waitFor(ctx, c.etcd, "etcd health", c.etcdHealthy); err != nil {
		return err
	}
	if err := c.apiserver.start(); err != nil {
		return err
	}
	if err := c.waitFor(ctx, c.apiserver, "API server readiness", c.apiserverReady); err != nil {
		return err
	}
	for _, p := range c.companions() {
		if err := p.start(); err != nil {
			return err
		}
	}
	if c.Minimal {
		return nil
	}
	client := c.Client()
	if err := c.createNodes(ctx, client); err != nil {
		return err
	}
	if err := c.startRealNodes(ctx); err != nil {
		return err
	}
	lbCtx, cancel := context.WithCancel(context.Background())
	c.lb = newLoadBalancer(c.Name, client, c.LoadBalancerPool, c.realNodeNames(), c.logWriter("loadbalancer.log"))
	c.lbCancel, c.lbDone = cancel, make(chan struct{})
	go func() {
		defer close(c.lbDone)
		c.lb.Run(lbCtx)
	}()
	return c.waitFor(ctx, nil, "nodes Ready, default ServiceAccount and load balancer", func(ctx context.Context) (bool, error) {
		if err := c.componentsRunning(); err != nil {
			return false, err
		}
		if !c.lb.HasSynced() {
			return false, nil
		}
		if _, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return false, nil
		}
		return c.nodesReady(ctx, client)
	})
}

// logWriter returns a writer appending to a file in the cluster's directory,
// or io.Discard when it cannot be opened.
func (c *Cluster) logWriter(name string) io.Writer {
	f, err := os.OpenFile(c.path(name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return io.Discard
	}
	return f
}

// componentsRunning returns an error naming the first lab program of the
// cluster that has exited.
func (c *Cluster) componentsRunning() error {
	for _, p := range c.processes() {
		if err := p.exitError(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) processes() []*process {
	return append(append([]*process{c.etcd, c.apiserver}, c.companions()...), c.realNodeProcesses()...)
}

// companions returns the programs that run against the API server and are
// restarted with it: the controller manager, scheduler and kwok, those of
// them the cluster runs.
func (c *Cluster) companions() []*process {
	var ps []*process
	for _, p := range []*process{c.controllerManager, c.scheduler, c.kwok} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// waitFor polls cond until it holds, ctx ends, or p exits (which would make
// waiting pointless).
func (c *Cluster) waitFor(ctx context.Context, p *process, what string, cond func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if p != nil {
			if err := p.exitError(); err != nil {
				return false, err
			}
		}
		ok, err := cond(ctx)
		if err != nil {
			if errors.Is(err, errFatal) {
				return false, err
			}
			last = err
			return false, nil
		}
		return ok, nil
	})
	if err == nil {
		return nil
	}
	if last != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return fmt.Errorf("cluster %s: waiting for %s: %w (last error: %v)", c.Name, what, err, last)
	}
	return fmt.Errorf("cluster %s: waiting for %s: %w", c.Name, what, err)
}

var errFatal = errors.New("fatal")

func (c *Cluster) etcdHealthy(ctx context.Context) (bool, error) {
	url, err := os.ReadFile(c.path("etcd-client-url"))
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, string(url)+"/health", nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func (c *Cluster) apiserverReady(ctx context.Context) (bool, error) {
	cfg := c.RESTConfig()
	cfg.Timeout = 2 * time.Second
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return false, err
	}
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return false, err
	}
	return string(body) == "ok", nil
}

// stop stops every program of the cluster, the load balancer first and etcd
// last, and releases its pool.
func (c *Cluster) stop() error {
	var errs []error
	if err := c.stopRealNodes(); err != nil {
		errs = append(errs, err)
	}
	if c.lbCancel != nil {
		c.lbCancel()
		<-c.lbDone
		c.lbCancel = nil
	}
	if c.poolRouted {
		if err := delLocalRoute(c.LoadBalancerPool); err != nil {
			errs = append(errs, err)
		}
		c.poolRouted = false
	}
	for _, p := range []*process{c.kwok, c.scheduler, c.controllerManager, c.apiserver, c.etcd} {
		if p == nil {
			continue
		}
		if err := p.stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	c.pool.release()
	c.serviceClaim.release()
	return errors.Join(errs...)
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)
}
