package main

// The lab, the federation and the sample app.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

// startLab starts the lab, with a real node per cluster where the machine
// can run them, unless one is running in the demo's directory already.
func (d *demo) startLab() error {
	if _, err := output("kfed-lab", "status", "--dir", d.dir); err == nil {
		step("The lab is already running in %s", d.dir)
		if err := d.useLab(); err != nil {
			return err
		}
		if out, err := output("kubectl", "--context", host, "get", "nodes", "-l", lab.LabelRealNode+"=true", "-o", "name"); err != nil || out == "" {
			d.realPods = errors.New("the running lab has no real nodes (it was started without them): `make lab-down`, then `make demo` again")
		}
		return nil
	}
	args := []string{"up", "--dir", d.dir}
	if d.bin != "" {
		args = append(args, "--bin", d.bin)
	}
	d.realPods = lab.RealNodesUnsupported(d.bin)
	if d.realPods == nil {
		if _, err := os.Stat(d.image); err != nil {
			d.realPods = fmt.Errorf("the coredns-fed image is missing (%v): `make lab-image` builds it", err)
		}
	}
	if d.realPods == nil {
		step("Starting the lab: three real clusters, each with one real node that runs pods, and kwok nodes")
		args = append(args, "--real-nodes", "1", "--image", d.image)
	} else {
		step("Starting the lab: three real clusters with kwok nodes (no real nodes: %v)", d.realPods)
	}
	if err := run("kfed-lab", args...); err != nil {
		return err
	}
	return d.useLab()
}

// useLab points kubectl at the lab, with absolute paths: the demo's servers
// outlive it.
func (d *demo) useLab() error {
	var err error
	if d.dir, err = filepath.Abs(d.dir); err != nil {
		return err
	}
	os.Setenv("KUBECONFIG", filepath.Join(d.dir, "kubeconfig"))
	out, err := output("kubectl", "config", "get-contexts", "-o", "name")
	if err != nil {
		return err
	}
	d.contexts = strings.Fields(out)
	return nil
}

func (d *demo) showClusters() error {
	step("The clusters, with their regions and zones")
	for _, ctx := range d.contexts {
		version, _ := output("kubectl", "--context", ctx, "version", "-o", "jsonpath={.serverVersion.gitVersion}")
		fmt.Printf("--- %s (%s)\n", ctx, version)
		if err := command(os.Stdout, "kubectl", "--context", ctx, "get", "nodes", "-L", lab.LabelRegion+","+lab.LabelZone); err != nil {
			return err
		}
	}
	return nil
}

// federate creates the federation in usa and joins every cluster, the host
// first.
func (d *demo) federate() error {
	step("Creating the federation %s in the host cluster %s, and joining the three clusters", federation, host)
	if err := run("kubectl", "fed", "init", federation, "--context", host, "--domain", domain); err != nil {
		return err
	}
	for _, ctx := range d.members() {
		if err := run("kubectl", "fed", "join", ctx, "--context", host, "--cluster-context", ctx); err != nil {
			return err
		}
	}
	return run("kubectl", "fed", "clusters", "--context", host)
}

// members are the lab's contexts, the host first.
func (d *demo) members() []string {
	out := []string{host}
	for _, ctx := range d.contexts {
		if ctx != host {
			out = append(out, ctx)
		}
	}
	return out
}

func (d *demo) applyApp() error {
	if d.realPods == nil {
		step("Applying the sample app once, to every member: its replicas are split over them, and run on the real nodes")
	} else {
		step("Applying the sample app once, to every member: its replicas are split over them")
	}
	if err := run("kubectl", "fed", "apply", "-f", filepath.Join(d.here, "hello.yaml"), "--context", host); err != nil {
		return err
	}
	for _, ctx := range d.contexts {
		if err := command(os.Stdout, "kubectl", "--context", ctx, "rollout", "status", "deployment/hello", "--timeout=120s"); err != nil {
			return err
		}
	}
	return run("kubectl", "fed", "get", "deploy,svc", "-A", "--context", host)
}

// showLoadBalancers waits for the app's load-balancer address in each
// cluster and sends it one HTTP request.
func (d *demo) showLoadBalancers() error {
	if d.realPods == nil {
		step("Each cluster's load balancer, forwarding real HTTP to the app's pods")
	} else {
		step("Each cluster's load balancer answering over real HTTP")
	}
	for _, ctx := range d.contexts {
		addr, err := d.lbAddress(ctx, "default", "hello")
		if err != nil {
			return err
		}
		d.lb[ctx] = addr
		fmt.Printf("--- %s: http://%s/\n", ctx, addr)
		body, err := httpGet("http://" + addr + "/")
		if err != nil {
			return fmt.Errorf("the app's load balancer in %s: %w", ctx, err)
		}
		fmt.Print(body)
	}
	return nil
}

// lbAddress waits up to 20 s for the load-balancer address of a Service.
func (d *demo) lbAddress(ctx, namespace, name string) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		addr, _ := output("kubectl", "--context", ctx, "-n", namespace, "get", "service", name, "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if addr != "" {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no load-balancer address for the Service %s/%s in %s after 20 s: see %s", namespace, name, ctx,
				filepath.Join(d.dir, "clusters", ctx, "loadbalancer.log"))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// httpGet fetches url, trying for up to 10 s while the pods come up.
func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(body), nil
			}
			if err == nil {
				err = fmt.Errorf("%s", resp.Status)
			}
		}
		if time.Now().After(deadline) {
			return "", err
		}
		time.Sleep(200 * time.Millisecond)
	}
}
