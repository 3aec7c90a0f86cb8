// Command demo is `make demo`: it starts the lab (if it is not up yet),
// federates its three clusters with kubectl fed, applies a load-balanced
// sample app to all of them at once, and answers for it with coredns-fed:
// in every cluster, in one region, in one zone, by the client's location,
// and while one cluster's load balancer is down. Then it installs
// coredns-fed into every cluster with `kubectl fed dns install`, where it
// runs as real pods on the lab's real nodes, and resolves the app through
// the delegation install prints, with a real recursive resolver.
//
// It shows every command it runs, as one would type it. Running it again
// is safe: init, join and apply change only what differs, and the servers
// of the last run are replaced.
//
//	go run ./test/demo -dir .lab -bin .cache/lab/current -image .cache/lab-image/coredns-fed-oci.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

const (
	federation = "magicring"
	domain     = "demo.example.com"
	app        = "hello.default." + federation + ".svc." + domain
	host       = "usa"
)

// demo is one run's settings and what it learned on the way.
type demo struct {
	// dir is the lab's directory, bin its programs, image the coredns-fed
	// image archive its real nodes import; here is test/demo.
	dir, bin, image, here                      string
	dnsPort, geoPort, parentPort, resolverPort int

	// realPods is nil when the lab's real nodes run the pods, else why not.
	realPods error
	contexts []string
	// lb is the sample app's load-balancer address in each cluster.
	lb map[string]string
	// dnsq is the demo's DNS client, built into the lab's directory.
	dnsq string
	// servers are the background servers this run started.
	servers []*server
}

func main() {
	d := &demo{lb: map[string]string{}}
	flag.StringVar(&d.dir, "dir", ".lab", "the lab's directory")
	flag.StringVar(&d.bin, "bin", "", "the lab's programs (default: $KFED_LAB_BIN or .cache/lab/current)")
	flag.StringVar(&d.image, "image", ".cache/lab-image/coredns-fed-oci.tar", "the coredns-fed image archive for the lab's real nodes (make lab-image)")
	flag.IntVar(&d.dnsPort, "dns-port", 1053, "the loopback port of the demo's first coredns-fed")
	flag.IntVar(&d.geoPort, "geo-port", 1054, "the loopback port of the coredns-fed with policy geo")
	flag.IntVar(&d.parentPort, "parent-port", 1055, "the loopback port of the parent zone's server")
	flag.IntVar(&d.resolverPort, "resolver-port", 1056, "the loopback port of unbound")
	flag.Parse()
	if err := d.run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func (d *demo) run() error {
	var err error
	if d.here, err = filepath.Abs("test/demo"); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(d.here, "hello.yaml")); err != nil {
		return fmt.Errorf("run the demo from the repository's root (make demo): %w", err)
	}
	for _, step := range []func() error{
		d.startLab,
		d.showClusters,
		d.federate,
		d.applyApp,
		d.showLoadBalancers,
		d.startServer,
		d.loadBalancerDown,
		d.geo,
		d.delegation,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	d.summary()
	return nil
}
