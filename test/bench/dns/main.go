// Command dns measures coredns-fed in a lab of three real clusters, against
// its baselines in the same run:
//
//   - Throughput: coredns-fed answering for 1,000 LoadBalancer Services in
//     each of three members, against stock CoreDNS's file plugin (the same
//     binary) serving a zone file with the same names and addresses, and
//     against knotd (Knot DNS) serving that zone file: the ceiling. Each
//     server runs pinned to one core and its load to the other. All are
//     driven by dnsperf with the same query file for the same time, and by
//     a Go client at a fixed concurrency for latency percentiles. A second
//     coredns-fed, with policy geo and a city database, is asked the same
//     names with an EDNS Client Subnet option from Tokyo.
//   - Failover: how long each fault of issue 6 takes to change the answer,
//     and its repair to undo the change, over ten or more trials each,
//     asking every 50 ms; and a load balancer's fault as a client of a
//     real resolver (Debian's unbound, on loopback) sees it, holding each
//     answer for its TTL.
//   - Scale (-parts scale, see scale.go): coredns-fed in labs of minimal
//     clusters over a grid of members x Services per member, with the
//     cost curves of each measure (package report's Publish).
//
// It federates the lab with the real `kubectl fed` commands and runs the
// coredns-fed binary found on PATH. Run it with `make bench`, which builds
// everything, sets PATH and installs dnsperf, knot and unbound; the
// throughput part needs dnsperf on PATH, knotd, and taskset to pin, the
// failover part unbound.
//
// The targets of issue 16 it measures are recorded with package report,
// for the summary of the whole `make bench`, and printed at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

const (
	federation = "magicring"
	domain     = "bench.example.com."
)

type options struct {
	services    int
	duration    time.Duration
	rounds      int
	clients     int
	trials      int
	parts       string
	keep        bool
	corednsed   string
	knotd       string
	dnsperfArgs string
	// serverCPU and clientCPU are the cores of the throughput part's
	// servers and of their load; -1 leaves a side unpinned.
	serverCPU, clientCPU int
	scale                scaleOptions
}

func main() {
	var o options
	flag.IntVar(&o.services, "services", 1000, "LoadBalancer Services in each of the three members, for throughput")
	flag.DurationVar(&o.duration, "duration", 6*time.Second, "length of each dnsperf run (six seconds: three interleaved rounds of five servers keep make bench under its 20 minutes)")
	flag.IntVar(&o.rounds, "rounds", 3, "dnsperf runs per server, interleaved; the median is reported")
	flag.IntVar(&o.clients, "concurrency", 8, "queries in flight from the Go client that measures latency percentiles")
	flag.IntVar(&o.trials, "trials", 10, "trials of each fault")
	flag.StringVar(&o.parts, "parts", "failover,throughput", "which parts to run, comma-separated: failover, throughput, scale")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's directory (lab and server logs, Corefiles, zone and query files)")
	flag.StringVar(&o.dnsperfArgs, "dnsperf-args", "-c 2 -q 100 -t 2", "dnsperf's options besides the server, the query file and the time limit")
	flag.StringVar(&o.corednsed, "coredns", "coredns-fed", "the coredns-fed binary, or its name on PATH")
	flag.StringVar(&o.knotd, "knotd", "knotd", "the knotd binary, or its name on PATH (or in /usr/sbin)")
	flag.IntVar(&o.serverCPU, "server-cpu", 0, "the core every server of the throughput part runs on (and coredns-fed for failover too, when both parts run); -1 for any")
	flag.IntVar(&o.clientCPU, "client-cpu", 1, "the core dnsperf and the Go client run on; -1 for any")
	o.scale.register(flag.CommandLine)
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	parts := map[string]bool{}
	for p := range strings.SplitSeq(o.parts, ",") {
		switch p = strings.TrimSpace(p); p {
		case "failover", "throughput", "scale":
			parts[p] = true
		default:
			return fmt.Errorf("-parts: unknown part %q (want failover, throughput, scale)", p)
		}
	}
	if o.trials < 1 || o.rounds < 1 || o.services < 1 || o.clients < 1 {
		return errors.New("-trials, -rounds, -services and -concurrency must be at least 1")
	}
	// Check the tools before the lab starts, not minutes later.
	bin, err := exec.LookPath(o.corednsed)
	if err != nil {
		return fmt.Errorf("coredns-fed not found (run `make bench`, or `make build` and put bin/ on PATH): %w", err)
	}
	var knotd, knotVersion string
	if parts["throughput"] || parts["scale"] {
		if err := checkDNSPerf(); err != nil {
			return err
		}
	}
	if parts["throughput"] {
		if knotd, err = findKnotd(o.knotd); err != nil {
			return err
		}
		out, err := exec.Command(knotd, "-V").Output()
		if err != nil {
			return fmt.Errorf("%s -V: %w", knotd, err)
		}
		knotVersion = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "knotd (Knot DNS), version"))
	}
	if parts["failover"] {
		if _, err := framework.UnboundPath(); err != nil {
			return fmt.Errorf("the failover part resolves through unbound (`make bench` installs it): %w", err)
		}
	}
	if err := checkPinning(o.serverCPU, o.clientCPU); err != nil {
		return err
	}

	// The scale part runs labs of its own.
	if parts["scale"] {
		if err := runScale(o, bin); err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		if delete(parts, "scale"); len(parts) == 0 {
			return nil
		}
	}

	dir, err := os.MkdirTemp("", "kfed-bench-dns-")
	if err != nil {
		return err
	}
	keep := o.keep
	defer func() {
		if keep {
			fmt.Fprintf(os.Stderr, "logs kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	begin := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	progress("starting a lab of three clusters in %s", dir)
	l, err := lab.Start(ctx, lab.Options{Dir: filepath.Join(dir, "lab"), Clusters: lab.DefaultClusters(), Log: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		if err := l.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the lab: %v\n", err)
		}
	}()

	// With the throughput part, every server runs on the servers' core,
	// coredns-fed for failover too, since it is the same process.
	b := &bench{opts: o, lab: l, dir: dir, bin: bin, knotd: knotd, knotVersion: knotVersion, pinServers: parts["throughput"]}
	if err := b.federate(ctx); err != nil {
		keep = true
		return err
	}
	if parts["throughput"] {
		// Before the server starts, so that failover, too, is measured
		// with every Service watched and probed.
		if err := b.createBulk(ctx); err != nil {
			keep = true
			return err
		}
		defer b.bulk.close()
	}
	// One coredns-fed for the whole run, with the plugin's default probes
	// (1 s, 2 failures): failover is measured as shipped, and throughput
	// includes what watching and probing cost.
	fed, err := b.startFed()
	if err != nil {
		keep = true
		return err
	}
	defer fed.stop()
	if err := fed.waitReady(2 * time.Minute); err != nil {
		keep = true
		return err
	}
	if b.bulk != nil {
		begin := time.Now()
		if err := poll(2*time.Minute, func() (bool, error) { return b.bulk.checkAnswers(fed) == nil, nil }); err != nil {
			keep = true
			return fmt.Errorf("coredns-fed does not answer every Service: %v", b.bulk.checkAnswers(fed))
		}
		progress("coredns-fed answers all %d names with every member's address after %s more", len(b.bulk.names), time.Since(begin).Round(10*time.Millisecond))
	}

	var tables []func()
	if parts["failover"] {
		t, err := b.failover(fed)
		if err != nil {
			keep = true
			return fmt.Errorf("failover: %w", err)
		}
		tables = append(tables, t)
	}
	if parts["throughput"] {
		t, err := b.throughput(fed)
		if err != nil {
			keep = true
			return fmt.Errorf("throughput: %w", err)
		}
		tables = append(tables, t)
	}
	for _, t := range tables {
		t()
	}
	if targets := report.Recorded(); len(targets) > 0 {
		fmt.Printf("\nTargets of issue 16 measured by this run:\n\n")
		if err := report.WriteTable(os.Stdout, report.GoalsOf(report.Goals, targets), targets); err != nil {
			return err
		}
	}
	fmt.Printf("\ntotal run time %s\n", time.Since(begin).Round(time.Second))
	return nil
}

// bench is one run: its lab, federation and directory.
type bench struct {
	opts options
	lab  *lab.Lab
	dir  string
	// bin is the coredns-fed binary, knotd Knot DNS's server.
	bin, knotd  string
	knotVersion string
	// pinServers runs the servers it starts on opts.serverCPU.
	pinServers bool
	// appAddr is the sample app's load-balancer address in each member.
	appAddr map[string]netip.Addr
	// bulk is what the throughput part created.
	bulk *bulk
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// federate makes the federation with kubectl fed, host usa, every cluster
// a member, and applies the sample app to all of them.
func (b *bench) federate(ctx context.Context) error {
	begin := time.Now()
	if _, err := b.kubectlFed(ctx, "init", federation, "--context", "usa", "--domain", strings.TrimSuffix(domain, ".")); err != nil {
		return err
	}
	for _, c := range b.lab.Clusters {
		if _, err := b.kubectlFed(ctx, "join", c.Name, "--context", "usa", "--cluster-context", c.Name); err != nil {
			return err
		}
	}
	progress("federation %s: %d members joined in %s", federation, len(b.lab.Clusters), time.Since(begin).Round(100*time.Millisecond))
	return b.deployApp(ctx)
}

// kubectlFed runs `kubectl fed`, or kubectl-fed when kubectl is not on
// PATH, against the lab.
func (b *bench) kubectlFed(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args = append(args, "--kubeconfig", b.lab.Kubeconfig)
	var cmd *exec.Cmd
	if _, err := exec.LookPath("kubectl"); err == nil {
		cmd = exec.CommandContext(ctx, "kubectl", append([]string{"fed"}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, "kubectl-fed", args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl fed %s: %v\n%s", strings.Join(args[:len(args)-2], " "), err, out)
	}
	return string(out), nil
}
