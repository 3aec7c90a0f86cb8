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
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// scaleOptions are the scale part's flags.
type scaleOptions struct {
	list      string
	clusters  string
	services  string
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
	fs.StringVar(&s.list, "scale-cases", "",
		"scale part: the cases to run instead of the grid, each MEMBERSxSERVICES (Services per member), in order, such as 3x1000,20x2500; a case the machine's memory cannot hold is skipped")
	fs.StringVar(&s.clusters, "scale-clusters", "",
		"scale part: the grid's member counts (default "+fullGrid.clusters+", with -short "+shortGrid.clusters+"); the grid also runs the baselines "+qpsBaseline.String()+" and "+failoverBaseline.String())
	fs.StringVar(&s.services, "scale-services", "",
		"scale part: the grid's Services per member (default "+fullGrid.services+", with -short "+shortGrid.services+")")
	fs.BoolVar(&s.short, "short", false, "scale part: small cases and short windows, to check that it works")
	fs.IntVar(&s.endpoints, "scale-endpoints", 5, "scale part: ready endpoints per Service")
	fs.IntVar(&s.addrs, "scale-addrs", 100, "scale part: load-balancer addresses per member, which its Services share (at most 200)")
	fs.IntVar(&s.churn, "scale-churn", 50, "scale part: endpoint changes a second, spread over all members")
	fs.DurationVar(&s.window, "scale-window", 30*time.Second, "scale part: length of the churn and of the probe-cost windows")
	fs.IntVar(&s.trials, "scale-trials", 20, "scale part: load-balancer-down trials per case")
	fs.DurationVar(&s.queries, "scale-queries", 10*time.Second, "scale part: length of the QPS runs: half of it for each dnsperf round and for each of the Go client's latency runs")
}

// grid is the cases of every member count with every number of Services
// per member, as comma-separated lists.
type grid struct{ clusters, services string }

// The grids run by default: issue 16's cost curves (1, 5, 10 and 20
// members x 100, 1,000 and 2,500 Services each), and a small one for
// -short, whose largest case is still larger than both baselines.
var (
	fullGrid  = grid{clusters: "1,5,10,20", services: "100,1000,2500"}
	shortGrid = grid{clusters: "1,5", services: "100,1000"}
)

// scaleCase is a number of members, each with a number of Services.
type scaleCase struct{ clusters, services int }

func (c scaleCase) String() string { return fmt.Sprintf("%dx%d", c.clusters, c.services) }

// The cases the targets are judged on.
var (
	qpsBaseline      = scaleCase{3, 1000}
	failoverBaseline = scaleCase{3, 100}
)

// scaleMaxAddresses caps the addresses of an answer in every case, at
// the baseline's number of members: a global name then answers the same
// three records at 20 members as at 3, and the QPS target compares
// lookups in a larger zone, not longer answers (whose cost the throughput
// part and the in-process benchmarks show).
var scaleMaxAddresses = qpsBaseline.clusters

// cases returns the cases the options ask for: -scale-cases as given, or
// else the grid with the baselines the targets are judged against,
// smallest first, so that a case too big for the machine's memory is seen
// coming from the ones before it.
func (s scaleOptions) cases() ([]scaleCase, error) {
	if s.list != "" {
		return parseCases(s.list)
	}
	g := fullGrid
	if s.short {
		g = shortGrid
	}
	if s.clusters != "" {
		g.clusters = s.clusters
	}
	if s.services != "" {
		g.services = s.services
	}
	return gridCases(g)
}

// gridCases returns every case of g, and the baselines, each once, in
// order of Services in all, then of members.
func gridCases(g grid) ([]scaleCase, error) {
	clusters, err := parseCounts("-scale-clusters", g.clusters, 60, fullGrid.clusters)
	if err != nil {
		return nil, err
	}
	services, err := parseCounts("-scale-services", g.services, 1<<20, fullGrid.services)
	if err != nil {
		return nil, err
	}
	seen := map[scaleCase]bool{}
	var out []scaleCase
	add := func(c scaleCase) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, m := range clusters {
		for _, n := range services {
			add(scaleCase{m, n})
		}
	}
	add(qpsBaseline)
	add(failoverBaseline)
	slices.SortStableFunc(out, func(a, b scaleCase) int {
		return cmp.Or(cmp.Compare(a.clusters*a.services, b.clusters*b.services), cmp.Compare(a.clusters, b.clusters))
	})
	return out, nil
}

// parseCounts reads a comma-separated list of counts from 1 to most;
// example is a good value, for the error.
func parseCounts(flagName, s string, most int, example string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > most {
			return nil, fmt.Errorf("%s: %q is not a count from 1 to %d (as in %s)", flagName, f, most, example)
		}
		out = append(out, n)
	}
	return out, nil
}

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
		// Six cases within make bench's time: still 250 changes at 50 a
		// second, and a p95 of five trials is their slowest.
		s.window, s.trials, s.queries = 5*time.Second, 5, 2*time.Second
	}
	cases, err := s.cases()
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
			// What the cases before measured still counts.
			printScale(results, s, o.clients)
			if perr := publishScale(results, s); perr != nil {
				progress("scale: %v", perr)
			}
			return fmt.Errorf("case %s: %w", c, err)
		}
		results = append(results, r)
	}
	printScale(results, s, o.clients)
	if err := publishScale(results, s); err != nil {
		return err
	}
	fmt.Printf("\nscale part: %s\n", time.Since(begin).Round(time.Second))
	return nil
}

// publishScale records the targets the cases answer, for the summary of
// `make bench`, and prints them; then writes the cost curves into the
// run's output directory and prints their fitted growth.
func publishScale(results []*scaleResult, s scaleOptions) error {
	targets := scaleTargets(results, s.endpoints)
	if len(targets) == 0 {
		return nil
	}
	if err := report.Record(targets...); err != nil {
		return err
	}
	fmt.Printf("\nTargets of issue 16, judged on the largest case run and the baselines of this run:\n\n")
	if err := report.WriteTable(os.Stdout, report.GoalsOf(report.Goals, targets), targets); err != nil {
		return err
	}
	curves := scaleCurves(results)
	if len(curves) == 0 {
		fmt.Println("\nNo cost curves: they need two cases of the same members or of the same Services per member.")
		return nil
	}
	out, err := report.OutDir()
	if err != nil {
		return fmt.Errorf("the directory for the cost curves: %w", err)
	}
	_, err = report.Publish(os.Stdout, filepath.Join(out, "scale"), curves)
	return err
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
