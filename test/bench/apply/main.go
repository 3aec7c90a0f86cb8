// Command apply measures `kubectl fed apply` and `kubectl fed get` as the
// federation grows, each figure beside its baseline from the same run:
//
//   - the floor table: a set of mixed objects applied to 1, 3, 6, 12 and
//     20 members, against `kubectl apply --server-side` run on each member
//     one after another, and against the CPU floor (below);
//   - re-apply: the same manifest applied again, which must write nothing,
//     against kubectl re-applying it to each member in turn;
//   - scale: 2,000 objects to 20 members, with the plugin's peak memory;
//   - get: `kubectl fed get svc -A` over 20 members of 2,500 Services each,
//     against `kubectl get svc -A` on each member in turn;
//   - diff: `kubectl fed diff -f` right after the apply that wrote the same
//     objects to 3 members, which must take no longer than that apply.
//
// Every cluster of the lab runs on the same machine, so a fan-out cannot be
// faster than the processor time it takes, the members' API servers'
// included, spread over the machine's cores. The benchmark measures that
// time too, and prints how close kfed comes to that floor.
//
// The lab is minimal (etcd and an API server per cluster, plus the token
// controller that join needs) and grows as the steps need members. -short
// runs every part at a small size, to check the benchmark itself; -parts
// runs only some, such as `-parts get -clusters 20` for the get part
// alone. Run it with `make bench`.
//
// Each part prints its own table; the figures that answer issue 16's
// targets are recorded with package report, for the summary of the whole
// `make bench`, each figure smaller than the issue's size noted as sampled.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kfed-dev/kfed/test/bench/report"
	"github.com/kfed-dev/kfed/test/lab"
)

// config is the size of every part of a run.
type config struct {
	steps           []int // member counts of the floor table, ascending
	objects         int   // objects per apply of the floor table
	rounds          int   // runs per measure; the median is reported
	reapplyObjects  int
	reapplyClusters int
	scaleObjects    int // applied to the largest step's members
	getServices     int // Services per member, at the largest step
	diffObjects     int // with 3 members; 0 leaves the diff row out
	parts           map[string]bool
	keep            bool
	hold            bool
}

// allParts are the parts of a run, as -parts names them.
var allParts = []string{"floor", "reapply", "scale", "get", "diff"}

// full and short are the sizes of `make bench` and of -short.
var (
	full = config{steps: []int{1, 3, 6, 12, 20}, objects: 200, rounds: 3,
		reapplyObjects: 200, reapplyClusters: 6, scaleObjects: 2000, getServices: 2500, diffObjects: 1000}
	short = config{steps: []int{1, 3}, objects: 50, rounds: 1,
		reapplyObjects: 50, reapplyClusters: 3, scaleObjects: 200, getServices: 200, diffObjects: 100}
)

func main() {
	isShort := flag.Bool("short", false, "run every part at a small size, to check the benchmark rather than to measure")
	steps := flag.String("clusters", "", "member counts of the floor table, such as 1,3,6,12,20 (the default)")
	objects := flag.Int("objects", 0, "objects per apply of the floor table (200)")
	rounds := flag.Int("rounds", 0, "runs per measure; the median is reported (3)")
	reapply := flag.Int("reapply-objects", 0, "objects of the re-apply part (200)")
	reapplyClusters := flag.Int("reapply-clusters", 0, "members of the re-apply part; must be one of -clusters (6)")
	scale := flag.Int("scale-objects", 0, "objects applied to the most members, with the plugin's peak memory (2000)")
	services := flag.Int("get-services", 0, "Services per member read by kubectl fed get svc -A, at the most members (2500)")
	diffObjects := flag.Int("diff-objects", -1, "objects of the diff against apply row, with 3 members; 0 leaves it out (1000)")
	parts := flag.String("parts", strings.Join(allParts, ","), "the parts to run, such as get: the members are joined up to the most of -clusters either way")
	keep := flag.Bool("keep", false, "leave the lab's directory for its logs")
	hold := flag.Bool("hold", false, "after the parts, leave the lab running until interrupted, to profile against it")
	flag.Parse()

	cfg := full
	if *isShort {
		cfg = short
	}
	if *steps != "" {
		var err error
		if cfg.steps, err = parseSteps(*steps); err != nil {
			fmt.Fprintln(os.Stderr, "error: -clusters:", err)
			os.Exit(2)
		}
	}
	for _, o := range []struct {
		flag *int
		into *int
	}{{objects, &cfg.objects}, {rounds, &cfg.rounds}, {reapply, &cfg.reapplyObjects}, {reapplyClusters, &cfg.reapplyClusters},
		{scale, &cfg.scaleObjects}, {services, &cfg.getServices}} {
		if *o.flag > 0 {
			*o.into = *o.flag
		}
	}
	if *diffObjects >= 0 {
		cfg.diffObjects = *diffObjects
	}
	cfg.keep = *keep
	cfg.hold = *hold
	var err error
	if cfg.parts, err = parseParts(*parts); err != nil {
		fmt.Fprintln(os.Stderr, "error: -parts:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// parseParts reads a list of part names.
func parseParts(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allParts, f) {
			return nil, fmt.Errorf("%q is not a part: the parts are %s", f, strings.Join(allParts, ", "))
		}
		out[f] = true
	}
	return out, nil
}

// parseSteps reads an ascending list of member counts.
func parseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a member count", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("counts must ascend: %s", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// bench is the lab of a run and the members joined so far.
type bench struct {
	cfg    config
	lab    *lab.Lab
	k      kubectl
	dir    string
	specs  []lab.ClusterSpec
	joined int
}

func run(cfg config) error {
	dir, err := os.MkdirTemp("", "kfed-bench-apply-")
	if err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	most := cfg.steps[len(cfg.steps)-1]
	regions := []string{"us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2", "eu-central-1", "ap-southeast-2"}
	var specs []lab.ClusterSpec
	for i := 0; i < most; i++ {
		r := regions[i%len(regions)]
		specs = append(specs, lab.ClusterSpec{Name: fmt.Sprintf("c%d", i+1), Region: r, Zone: r + "a"})
	}
	// Twenty API servers start one after another's heels on two cores.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+time.Duration(most)*30*time.Second)
	defer cancel()
	fmt.Fprintf(os.Stderr, "starting a lab of %d clusters in %s\n", len(specs), dir)
	// The benchmark writes objects and runs no pods: each cluster is etcd
	// and an API server, plus the controller manager's token controller,
	// which join needs for the credentials it hands the host.
	l, err := lab.Start(ctx, lab.Options{Dir: dir, Clusters: specs, Minimal: true, MinimalControllers: []string{"serviceaccount-token"}})
	if err != nil {
		return err
	}
	defer l.Stop()
	b := &bench{cfg: cfg, lab: l, k: kubectl{kubeconfig: l.Kubeconfig}, dir: dir, specs: specs}
	if _, err := b.k.run("fed", "init", "bench", "--context", "c1", "--domain", "bench.example.com"); err != nil {
		return err
	}

	var floors []floorRow
	var reapply *reapplyRow
	var diffs *diffRow
	for _, n := range cfg.steps {
		if err := b.joinUpTo(n); err != nil {
			return err
		}
		if cfg.parts["floor"] {
			row, err := b.measureFloor(n)
			if err != nil {
				return err
			}
			floors = append(floors, row)
		}
		if n == 3 && cfg.diffObjects > 0 && cfg.parts["diff"] {
			if diffs, err = measureDiff(l, b.k, dir, cfg.diffObjects, cfg.rounds); err != nil {
				return err
			}
		}
		if n == cfg.reapplyClusters && cfg.parts["reapply"] {
			if reapply, err = b.measureReapply(n); err != nil {
				return err
			}
		}
	}
	var scale *scaleRow
	if cfg.parts["scale"] {
		if scale, err = b.measureScale(most); err != nil {
			return err
		}
	}
	var get *getRow
	if cfg.parts["get"] {
		if get, err = b.measureGet(most); err != nil {
			return err
		}
	}

	var targets []report.Target
	if len(floors) > 0 {
		targets = append(targets, printFloors(cfg, floors)...)
	}
	if scale != nil {
		targets = append(targets, scale.print()...)
	}
	if reapply != nil {
		targets = append(targets, reapply.print()...)
	}
	if get != nil {
		targets = append(targets, get.print()...)
	}
	if diffs != nil {
		targets = append(targets, diffs.print()...)
	}
	if err := publish(targets); err != nil {
		return err
	}
	if cfg.hold {
		holdLab(l)
	}
	return nil
}

// holdLab waits, the lab running, until the process is interrupted.
func holdLab(l *lab.Lab) {
	fmt.Fprintf(os.Stderr, "the lab runs until interrupted: KUBECONFIG=%s\n", l.Kubeconfig)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
}

// joinUpTo joins members until n are.
func (b *bench) joinUpTo(n int) error {
	for ; b.joined < n; b.joined++ {
		s := b.specs[b.joined]
		// Minimal clusters have no nodes to read the topology from.
		if _, err := b.k.run("fed", "join", s.Name, "--context", "c1", "--cluster-context", s.Name,
			"--region", s.Region, "--zone", s.Zone); err != nil {
			return err
		}
	}
	return nil
}

// publish records the targets for the summary of `make bench` and
// prints them, each on the row of the issue's goal it answers.
func publish(targets []report.Target) error {
	if err := report.Record(targets...); err != nil {
		return err
	}
	fmt.Printf("\nTargets of issue 16 measured by this run:\n\n")
	return report.WriteTable(os.Stdout, report.GoalsOf(report.Goals, targets), targets)
}

// sized names what a part applied or read, e.g. "2,000 objects to 20
// clusters", and, when that is less than the issue's size, says so in a
// note: a -short run, or flags that shrank a part.
func sized(got, issue string) (what, note string) {
	if got != issue {
		note = "sampled: " + got + ", not the issue's " + issue
	}
	return got, note
}

// objectsTo is the size of an apply: objects to n clusters.
func objectsTo(objects, clusters int) string {
	return fmt.Sprintf("%s objects to %s", report.Thousands(objects), plural(clusters, "cluster"))
}

// plural writes n things, e.g. "1 cluster", "3 clusters".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// mixed returns n objects of several kinds in namespace ns.
func mixed(ns string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := 1; i < n; i++ {
		b.WriteString("---\n")
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {key: value-%d}\n", i, ns, i)
		case 1:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Secret\nmetadata: {name: secret-%d, namespace: %s}\nstringData: {token: t-%d}\n", i, ns, i)
		case 2:
			fmt.Fprintf(&b, "apiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: %s}\nspec:\n  selector: {app: a%d}\n  ports: [{port: 80}]\n", i, ns, i)
		case 3:
			fmt.Fprintf(&b, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: deploy-%d, namespace: %s}\nspec:\n  paused: true\n  replicas: 3\n  selector: {matchLabels: {app: a%d}}\n  template:\n    metadata: {labels: {app: a%d}}\n    spec:\n      containers: [{name: c, image: registry.k8s.io/pause:3.10}]\n", i, ns, i, i)
		case 4:
			fmt.Fprintf(&b, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: role-%d, namespace: %s}\nrules: [{apiGroups: [\"\"], resources: [configmaps], verbs: [get]}]\n", i, ns)
		}
	}
	return b.String()
}
