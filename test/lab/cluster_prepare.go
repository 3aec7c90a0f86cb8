package lab

// Preparing a lab cluster before it starts: its certificates, token and
// kubeconfig, and the command lines of the programs it runs.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

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

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return hex.EncodeToString(b)
}
