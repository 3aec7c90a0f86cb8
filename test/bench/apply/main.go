// Command apply measures how `kubectl fed apply` scales with the number of
// member clusters, against `kubectl apply --server-side` run on each cluster
// one after another, in the same lab and the same run.
//
// It starts a lab of six clusters, federates them step by step (1, 3, then
// 6 members) and, at each step, applies 200 mixed objects into a fresh
// namespace with both tools, a few times, keeping the median. Run it with
// `make bench`.
//
// Every cluster of the lab runs on the same machine, so a fan-out cannot
// be faster than the processor time it takes, the members' API servers'
// included, spread over the machine's cores. The benchmark measures that
// time too, and prints how close kfed comes to that floor.
//
// With 3 members joined, it also applies a larger set of mixed objects
// (1,000 by default) into a fresh namespace and runs `kubectl fed diff -f`
// of the same file right after, which must find nothing: diff reads every
// object in every member and dry-runs its write, so it must not take longer
// than the apply that wrote them.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kfed-dev/kfed/test/lab"
)

func main() {
	objects := flag.Int("objects", 200, "objects per apply")
	rounds := flag.Int("rounds", 3, "applies per tool and cluster count; the median is reported")
	diffObjects := flag.Int("diff-objects", 1000, "objects of the diff against apply row, with 3 members; 0 leaves it out")
	keep := flag.Bool("keep", false, "leave the lab's directory for its logs")
	flag.Parse()
	if err := run(*objects, *rounds, *diffObjects, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(objects, rounds, diffObjects int, keep bool) error {
	dir, err := os.MkdirTemp("", "kfed-bench-apply-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	var specs []lab.ClusterSpec
	regions := []string{"us-east-1", "eu-west-1", "ap-northeast-1", "us-west-2", "eu-central-1", "ap-southeast-2"}
	for i, r := range regions {
		specs = append(specs, lab.ClusterSpec{Name: fmt.Sprintf("c%d", i+1), Region: r, Zone: r + "a"})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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

	k := kubectl{kubeconfig: l.Kubeconfig}
	if _, err := k.run("fed", "init", "bench", "--context", "c1", "--domain", "bench.example.com"); err != nil {
		return err
	}
	type row struct {
		clusters       int
		kfed, baseline time.Duration
		// kfedCPU is the processor time of the median kfed run: the
		// plugin's and every lab program's.
		kfedCPU time.Duration
	}
	var rowsOut []row
	var diffs *diffRow
	joined := 0
	for _, n := range []int{1, 3, 6} {
		for ; joined < n; joined++ {
			name := specs[joined].Name
			// Minimal clusters have no nodes to read the topology from.
			if _, err := k.run("fed", "join", name, "--context", "c1", "--cluster-context", name,
				"--region", specs[joined].Region, "--zone", specs[joined].Zone); err != nil {
				return err
			}
		}
		var kfedTimes, baseTimes []time.Duration
		cpuByTime := map[time.Duration]time.Duration{}
		for r := 0; r < rounds; r++ {
			ns := fmt.Sprintf("fed-%d-%d", n, r)
			file := filepath.Join(dir, ns+".yaml")
			if err := os.WriteFile(file, []byte(mixed(ns, objects)), 0o600); err != nil {
				return err
			}
			labBefore := labCPU(l)
			begin := time.Now()
			tool, err := k.runTimed("fed", "apply", "-f", file, "--context", "c1")
			if err != nil {
				return err
			}
			took := time.Since(begin)
			kfedTimes = append(kfedTimes, took)
			cpuByTime[took] = tool + labCPU(l) - labBefore

			ns = fmt.Sprintf("kubectl-%d-%d", n, r)
			file = filepath.Join(dir, ns+".yaml")
			if err := os.WriteFile(file, []byte(mixed(ns, objects)), 0o600); err != nil {
				return err
			}
			begin = time.Now()
			for _, s := range specs[:n] {
				if _, err := k.run("apply", "--server-side", "-f", file, "--context", s.Name); err != nil {
					return err
				}
			}
			baseTimes = append(baseTimes, time.Since(begin))
		}
		rowsOut = append(rowsOut, row{n, median(kfedTimes), median(baseTimes), cpuByTime[median(kfedTimes)]})
		fmt.Fprintf(os.Stderr, "%d clusters: kfed %s, kubectl one after another %s\n", n, median(kfedTimes).Round(time.Millisecond), median(baseTimes).Round(time.Millisecond))
		if n == 3 && diffObjects > 0 {
			if diffs, err = measureDiff(l, k, dir, diffObjects, rounds); err != nil {
				return err
			}
		}
	}

	fmt.Printf("\nkubectl fed apply of %d mixed objects (median of %d), against kubectl apply --server-side on each cluster in turn\n\n", objects, rounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTERS\tKFED\tKUBECTL IN TURN\tKFED / KFED@1\tKUBECTL / KFED\tKFED CPU\tCPU FLOOR\tKFED / FLOOR")
	cores := runtime.NumCPU()
	for _, r := range rowsOut {
		// The floor is how long the run's processor time takes on this
		// machine's cores with nothing idle: no fan-out can beat it.
		floor := r.kfedCPU / time.Duration(cores)
		fmt.Fprintf(w, "%d\t%s\t%s\t%.2fx\t%.2fx\t%s\t%s\t%.2fx\n", r.clusters, r.kfed.Round(time.Millisecond), r.baseline.Round(time.Millisecond),
			float64(r.kfed)/float64(rowsOut[0].kfed), float64(r.baseline)/float64(r.kfed),
			r.kfedCPU.Round(10*time.Millisecond), floor.Round(time.Millisecond), float64(r.kfed)/float64(floor))
	}
	w.Flush()
	fmt.Printf("\nKFED CPU is the processor time of the plugin and of every lab program (API servers, etcds) during the median kfed run;\n"+
		"CPU FLOOR is that time spread over this machine's %d cores.\n", cores)
	ratio := float64(rowsOut[len(rowsOut)-1].kfed) / float64(rowsOut[0].kfed)
	verdict := "met"
	if ratio > 2 {
		verdict = "NOT met"
	}
	fmt.Printf("\ntarget: 6 clusters within 2x of 1 cluster: %.2fx, %s\n", ratio, verdict)
	if diffs != nil {
		diffs.print()
	}
	return nil
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

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

type kubectl struct{ kubeconfig string }

// runTimed runs kubectl and returns the processor time it used, plugins
// included: kubectl execs a plugin in its own process.
func (k kubectl) runTimed(args ...string) (time.Duration, error) {
	cmd := exec.Command("kubectl", append(args, "--kubeconfig", k.kubeconfig)...)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// clockTicks is the unit of the times in /proc/PID/stat: USER_HZ, which
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// labCPU returns the processor time every lab program has used so far.
func labCPU(l *lab.Lab) time.Duration {
	var total time.Duration
	for _, c := range l.Status() {
		for _, p := range c.Processes {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
			if err != nil {
				continue
			}
			// The command name, in parentheses, may hold spaces: count
			// the fields after it. utime and stime are fields 14 and 15.
			f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
			if len(f) < 13 {
				continue
			}
			utime, _ := strconv.ParseInt(f[11], 10, 64)
			stime, _ := strconv.ParseInt(f[12], 10, 64)
			total += time.Duration(utime+stime) * time.Second / clockTicks
		}
	}
	return total
}

func (k kubectl) run(args ...string) (string, error) {
	cmd := exec.Command("kubectl", append(args, "--kubeconfig", k.kubeconfig)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String(), nil
}
