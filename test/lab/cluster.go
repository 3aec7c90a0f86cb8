package lab

import (
	"context"
	"io"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
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
