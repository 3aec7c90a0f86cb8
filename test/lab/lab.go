// Package lab runs a local lab of real Kubernetes clusters on loopback, for
// kfed's end-to-end tests, its demo and its benchmarks.
//
// Each cluster runs the upstream programs as processes: its own etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler, kwok for nodes
// and pods, and an in-process loopback load balancer that gives Services of
// type LoadBalancer a 127.x.y.z address with a real HTTP listener. No
// container engine is needed.
package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options configure a lab.
type Options struct {
	// Dir holds everything the lab writes: certificates, etcd data, logs and
	// the kubeconfig. It is created if needed.
	Dir string
	// BinDir holds the lab's programs; empty means FindBinDir.
	BinDir string
	// Clusters to start; empty means DefaultClusters.
	Clusters []ClusterSpec
	// Minimal runs only etcd and an API server per cluster, for scale work.
	Minimal bool
	// MinimalControllers, with Minimal, adds a controller manager running
	// only these controllers (its --controllers flag): serviceaccount-token,
	// say, which is all that joining a cluster to a federation needs.
	MinimalControllers []string
	// Images are image tarballs, such as `make image` and WriteImage
	// write, that every real node imports at start, besides the lab's own.
	Images []string
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Lab is a set of running clusters.
type Lab struct {
	// Dir is the lab's directory.
	Dir string
	// Kubeconfig is the path of a kubeconfig with one context per cluster,
	// named like the cluster.
	Kubeconfig string
	// Clusters are the lab's clusters, in the order they were given.
	Clusters []*Cluster
	// Bin is the directory of the lab's programs, kubectl among them.
	Bin string
	// Ready is how long Start took until every cluster was Ready.
	Ready time.Duration

	stopOnce sync.Once
	stopErr  error
	// host records what real nodes change on the machine outside the lab's
	// directory; nil when no cluster has real nodes.
	host *hostRecord
}

var clusterName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,30}[a-z0-9])?$`)

// validate fills in defaults and checks the options.
func (o *Options) validate() error {
	if o.Dir == "" {
		return errors.New("lab: Options.Dir is required")
	}
	if len(o.Clusters) == 0 {
		o.Clusters = DefaultClusters()
	}
	if len(o.Clusters) > 60 {
		return fmt.Errorf("lab: %d clusters asked for; at most 60 fit the lab's address plan", len(o.Clusters))
	}
	seen := map[string]bool{}
	for _, c := range o.Clusters {
		if !clusterName.MatchString(c.Name) {
			return fmt.Errorf("lab: cluster name %q is not a DNS label of at most 32 characters", c.Name)
		}
		if seen[c.Name] {
			return fmt.Errorf("lab: cluster name %q is given twice", c.Name)
		}
		seen[c.Name] = true
		if !o.Minimal && (c.Region == "" || c.Zone == "") {
			return fmt.Errorf("lab: cluster %q needs a region and a zone for its nodes' topology labels", c.Name)
		}
		if c.Nodes < 0 || c.Nodes > 100 {
			return fmt.Errorf("lab: cluster %q: %d nodes is outside 0..100", c.Name, c.Nodes)
		}
		if c.RealNodes < 0 || c.RealNodes > 8 {
			return fmt.Errorf("lab: cluster %q: %d real nodes is outside 0..8", c.Name, c.RealNodes)
		}
		if c.RealNodes > 0 && o.Minimal {
			return fmt.Errorf("lab: cluster %q: a minimal lab runs no nodes, real ones included", c.Name)
		}
	}
	for _, img := range o.Images {
		if o.realNodes() == 0 {
			return fmt.Errorf("lab: image %s is for real nodes to import, and no cluster has any: give clusters real nodes (--real-nodes)", img)
		}
		if _, err := os.Stat(img); err != nil {
			return fmt.Errorf("lab: image archive for the real nodes: %w (make image writes dist/image/coredns-fed-oci.tar)", err)
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

// realNodes returns the number of real nodes of all clusters.
func (o *Options) realNodes() int {
	n := 0
	for _, c := range o.Clusters {
		n += c.RealNodes
	}
	return n
}

// Start starts the clusters, in parallel, and returns once all are Ready.
// If any cluster fails to start, everything started is stopped again and the
// error names the cluster and the log to read.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	for attempt := 1; ; attempt++ {
		l, err := startOnce(ctx, opts)
		if err == nil || attempt == startAttempts || ctx.Err() != nil || !portTaken(opts.Dir) {
			return l, err
		}
		// The lab picks ports that were free a moment before its programs
		// bind them; with many labs and tests on one machine, another
		// program may take one first. Everything is picked afresh.
		log := opts.Log
		if log == nil {
			log = io.Discard
		}
		fmt.Fprintf(log, "lab: a port was taken by another program before the lab could bind it; starting again (%v)\n", err)
	}
}

// startAttempts bounds Start's tries when ports are taken under it.
const startAttempts = 3

// portTaken reports whether a program of the lab in dir failed because its
// port was taken.
func portTaken(dir string) bool {
	logs, _ := filepath.Glob(filepath.Join(dir, "clusters", "*", "*.log"))
	for _, f := range logs {
		if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), "bind: address already in use") {
			return true
		}
	}
	return false
}

// startOnce is one try of Start.
func startOnce(ctx context.Context, opts Options) (*Lab, error) {
	begin := time.Now()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	bin, err := findBinaries(opts.BinDir)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l := &Lab{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), Bin: bin.dir}
	var images []string
	if opts.realNodes() > 0 {
		if err := RealNodesUnsupported(bin.dir); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		if l.host, err = recordHost(); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		if images, err = writeNodeImages(bin, dir); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		images = append(images, opts.Images...)
	}
	for i, spec := range opts.Clusters {
		c := &Cluster{
			ClusterSpec:        spec,
			Minimal:            opts.Minimal,
			minimalControllers: opts.MinimalControllers,
			Dir:                filepath.Join(dir, "clusters", spec.Name),
			bin:                bin,
			log:                opts.Log,
			index:              i,
			images:             images,
		}
		l.Clusters = append(l.Clusters, c)
	}
	if err := l.start(ctx, opts.Log); err != nil {
		if stopErr := l.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	l.Ready = time.Since(begin)
	fmt.Fprintf(opts.Log, "lab: %d clusters Ready in %s\n", len(l.Clusters), l.Ready.Round(100*time.Millisecond))
	return l, nil
}

func (l *Lab) start(ctx context.Context, log io.Writer) error {
	for _, c := range l.Clusters {
		// Every cluster gets a pool, minimal ones too, so addresses stay
		// stable if the options change between runs.
		claim := claimPool
		if c.RealNodes > 0 {
			claim = claimRealPool
		}
		pool, err := claim()
		if err != nil {
			return err
		}
		c.pool, c.LoadBalancerPool = pool, pool.prefix
		// A directory left by an earlier lab would hand etcd stale data.
		if err := os.RemoveAll(c.Dir); err != nil {
			return err
		}
		if err := c.prepare(); err != nil {
			return fmt.Errorf("cluster %s: %w", c.Name, err)
		}
	}
	if err := l.writeKubeconfig(); err != nil {
		return err
	}
	if err := l.writeHostRecord(); err != nil {
		return err
	}
	errs := make([]error, len(l.Clusters))
	var wg sync.WaitGroup
	for i, c := range l.Clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			begin := time.Now()
			if err := c.start(ctx); err != nil {
				errs[i] = err
				return
			}
			fmt.Fprintf(log, "lab: cluster %s (%s/%s) Ready in %s, API server %s\n",
				c.Name, c.Region, c.Zone, time.Since(begin).Round(100*time.Millisecond), c.Server)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Lab) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	for _, c := range l.Clusters {
		c.addTo(cfg, c.Server)
	}
	cfg.CurrentContext = l.Clusters[0].Name
	return clientcmd.WriteToFile(*cfg, l.Kubeconfig)
}

// Cluster returns the cluster with the given name, or nil.
func (l *Lab) Cluster(name string) *Cluster {
	for _, c := range l.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// SetLoadBalancerDelay delays the HTTP answers of a load-balancer address to
// the client address from (the zero Addr for every client), in whichever
// cluster's pool holds it; d of 0 removes the delay.
func (l *Lab) SetLoadBalancerDelay(addr, from netip.Addr, d time.Duration) error {
	for _, c := range l.Clusters {
		if c.LoadBalancerPool.Contains(addr) {
			return c.SetLoadBalancerDelay(addr, from, d)
		}
	}
	return fmt.Errorf("address %s is in no cluster's load-balancer pool", addr)
}

// SetLoadBalancerDown takes a load-balancer address down, or back up, in
// whichever cluster's pool holds it.
func (l *Lab) SetLoadBalancerDown(addr netip.Addr, down bool) error {
	for _, c := range l.Clusters {
		if c.LoadBalancerPool.Contains(addr) {
			return c.SetLoadBalancerDown(addr, down)
		}
	}
	return fmt.Errorf("address %s is in no lab cluster's load-balancer pool", addr)
}

// Stop stops every program the lab started. It is safe to call more than
// once. The lab's directory is left for its logs.
func (l *Lab) Stop() error {
	l.stopOnce.Do(func() {
		errs := make([]error, len(l.Clusters))
		var wg sync.WaitGroup
		for i, c := range l.Clusters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = c.stop()
			}()
		}
		wg.Wait()
		if l.host != nil {
			errs = append(errs, l.host.restore())
			if errors.Join(errs...) == nil {
				os.Remove(filepath.Join(l.Dir, hostRecordFile))
			}
		}
		l.stopErr = errors.Join(errs...)
	})
	return l.stopErr
}
