package main

// The scale part: coredns-fed serving many members with many Services
// each, in labs of minimal clusters (etcd, an API server and the token
// controller that join needs). The benchmark writes what coredns-fed reads
// itself, as a load balancer and the EndpointSlice controller would:
// Services of type LoadBalancer with an address in their status, and
// EndpointSlices with ready endpoints. It listens on those addresses, so
// that probes hit real sockets and a closed listener is a dead load
// balancer.
//
// Each case (members x Services per member) gets a lab of its own and
// reports: the lab's start and memory, coredns-fed's start to ready and
// resident memory against CoreDNS's sizing formula, QPS against the
// 3 x 1,000 case, change-to-answer latency under endpoint churn, what
// probing costs while nothing else happens, and how long a dead load
// balancer takes to leave the answers.

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// scaleOptions are the scale part's flags.
type scaleOptions struct {
	cases     string
	short     bool
	endpoints int
	addrs     int
	churn     int
	window    time.Duration
	trials    int
	queries   time.Duration
}

// register adds the scale part's flags to fs.
func (s *scaleOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&s.cases, "scale-cases", "",
		"scale part: the cases to run, each MEMBERSxSERVICES (Services per member), in order; a case the machine's memory cannot hold is skipped (default "+fullCases+", with -short "+shortCases+")")
	fs.BoolVar(&s.short, "short", false, "scale part: small cases and short windows, to check that it works")
	fs.IntVar(&s.endpoints, "scale-endpoints", 5, "scale part: ready endpoints per Service")
	fs.IntVar(&s.addrs, "scale-addrs", 100, "scale part: load-balancer addresses per member, which its Services share (at most 200)")
	fs.IntVar(&s.churn, "scale-churn", 50, "scale part: endpoint changes a second, spread over all members")
	fs.DurationVar(&s.window, "scale-window", 30*time.Second, "scale part: length of the churn and of the probe-cost windows")
	fs.IntVar(&s.trials, "scale-trials", 20, "scale part: load-balancer-down trials per case")
	fs.DurationVar(&s.queries, "scale-queries", 10*time.Second, "scale part: length of the QPS run")
}

// The cases run by default: the baselines, then 5 and 10 members to see
// how the lab and coredns-fed grow before 20 are tried.
const (
	fullCases  = "3x100,3x1000,5x2500,10x2500,20x2500"
	shortCases = "3x100,3x1000,5x500"
)

// scaleCase is a number of members, each with a number of Services.
type scaleCase struct{ clusters, services int }

func (c scaleCase) String() string { return fmt.Sprintf("%dx%d", c.clusters, c.services) }

// The cases the targets are judged on.
var (
	qpsBaseline      = scaleCase{3, 1000}
	failoverBaseline = scaleCase{3, 100}
)

// parseCases reads the -scale-cases list.
func parseCases(s string) ([]scaleCase, error) {
	var out []scaleCase
	for f := range strings.SplitSeq(s, ",") {
		m, n, ok := strings.Cut(strings.TrimSpace(f), "x")
		clusters, err1 := strconv.Atoi(m)
		services, err2 := strconv.Atoi(n)
		if !ok || err1 != nil || err2 != nil || clusters < 1 || clusters > 60 || services < 1 {
			return nil, fmt.Errorf("-scale-cases: %q is not MEMBERSxSERVICES with 1 to 60 members (as in 20x2500)", f)
		}
		out = append(out, scaleCase{clusters, services})
	}
	return out, nil
}

// runScale runs every case in its own lab and prints the table.
func runScale(o options, bin string) error {
	s := o.scale
	if s.short {
		s.window, s.trials, s.queries = 10*time.Second, 5, 5*time.Second
	}
	if s.cases == "" {
		s.cases = fullCases
		if s.short {
			s.cases = shortCases
		}
	}
	cases, err := parseCases(s.cases)
	if err != nil {
		return err
	}
	if s.addrs < 1 || s.addrs > 200 || s.endpoints < 1 || s.churn < 1 || s.trials < 1 {
		return errors.New("-scale-addrs must be 1 to 200, and -scale-endpoints, -scale-churn and -scale-trials at least 1")
	}
	begin := time.Now()
	var results []*scaleResult
	for _, c := range cases {
		if why := tooBig(c, results); why != "" {
			progress("scale %s: skipped: %s", c, why)
			results = append(results, &scaleResult{scaleCase: c, skipped: why})
			continue
		}
		r, err := runCase(o, s, bin, c)
		if err != nil {
			printScale(results, s, o.clients)
			return fmt.Errorf("case %s: %w", c, err)
		}
		results = append(results, r)
	}
	printScale(results, s, o.clients)
	fmt.Printf("\nscale part: %s\n", time.Since(begin).Round(time.Second))
	return nil
}

// tooBig returns why a case would not fit in memory, judged from the
// largest case run so far: the lab's memory grows with its members, and
// the machine must not swap.
func tooBig(c scaleCase, done []*scaleResult) string {
	var perCluster int64
	for _, r := range done {
		if r.skipped == "" && r.labRSS > 0 {
			perCluster = max(perCluster, r.labRSS/int64(r.clusters))
		}
	}
	avail := memAvailable()
	if perCluster == 0 || avail == 0 {
		return ""
	}
	need := perCluster * int64(c.clusters) * 3 / 2
	if need > avail*8/10 {
		return fmt.Sprintf("its lab would take about %d MiB (%d MiB a member so far, and half again as the Services come), and %d MiB are available",
			need>>20, perCluster>>20, avail>>20)
	}
	return ""
}

// scaleNS is the namespace of the Services in every member.
const scaleNS = "scale"

// scaleName returns the name of Service i.
func scaleName(i int) string { return fmt.Sprintf("s%05d", i) }

// globalName and clusterName are Service i's names in the zone.
func globalName(i int) string {
	return scaleName(i) + "." + scaleNS + "." + federation + ".svc." + domain
}

func clusterName(cluster string, i int) string { return cluster + "." + globalName(i) }
