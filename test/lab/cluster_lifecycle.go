package lab

// A lab cluster's lifecycle: starting its programs in order, waiting until
// each is healthy, and stopping them again.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

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
