package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/test/bench/report"
)

// getRow is `kubectl fed get svc -A` over every member, against the
// members' own lists of the same Services, all at once (the floor), and
// against `kubectl get svc -A` on each member in turn.
type getRow struct {
	services, clusters, rounds int
	rows                       int // the table's rows, all members'
	kfed                       measured
	// lists is the median time the members took to answer the plugin's
	// lists, all at once, with nothing decoded or printed.
	lists    time.Duration
	baseline time.Duration
}

// getTarget bounds kubectl fed get svc -A at scale.
const getTarget = 2 * time.Second

// getNamespace holds the Services the get part writes in every member.
const getNamespace = "get-bench"

func (b *bench) measureGet(n int) (*getRow, error) {
	begin := time.Now()
	if err := b.writeServices(n, b.cfg.getServices); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "each of %d clusters holds %d Services, written in %s\n", n, b.cfg.getServices, time.Since(begin).Round(time.Second))
	var runs []measured
	var lists, baselines []time.Duration
	want := 0
	for r := 0; r < b.cfg.rounds; r++ {
		m, err := b.timed("fed", "get", "svc", "-A", "--context", "c1")
		if err != nil {
			return nil, err
		}
		runs = append(runs, m)
		l, err := listFloor(context.Background(), b.lab.Clusters[:n])
		if err != nil {
			return nil, err
		}
		lists = append(lists, l)
		begin := time.Now()
		want = 0
		for _, s := range b.specs[:n] {
			out, err := b.k.run("get", "svc", "-A", "--context", s.Name)
			if err != nil {
				return nil, err
			}
			want += tableRows(out)
		}
		baselines = append(baselines, time.Since(begin))
	}
	row := &getRow{services: b.cfg.getServices, clusters: n, rounds: b.cfg.rounds, kfed: medianRun(runs), lists: median(lists), baseline: median(baselines)}
	// Both tools read the same Services: kfed's table has every member's.
	if row.rows = tableRows(row.kfed.stdout); row.rows != want {
		return nil, fmt.Errorf("kubectl fed get svc -A printed %d rows, and kubectl get svc -A on each member %d in all", row.rows, want)
	}
	fmt.Fprintf(os.Stderr, "get svc -A of %d rows from %d clusters: kfed %s, the members' own lists at once %s, kubectl one after another %s\n", row.rows, n,
		row.kfed.took.Round(time.Millisecond), row.lists.Round(time.Millisecond), row.baseline.Round(time.Millisecond))
	return row, nil
}

// tableRows counts the rows of a table, its header left out.
func tableRows(out string) int {
	lines := strings.Count(strings.TrimSpace(out), "\n")
	if strings.TrimSpace(out) == "" {
		return 0
	}
	return lines
}

// writeServices creates Services in getNamespace of each of the first n
// clusters, directly with client-go, until each holds count in all: the
// target names that many, and the apply part leaves Services of its own.
// The part measures reading them. Headless Services allocate no cluster
// IP, so that any count fits.
func (b *bench) writeServices(n, count int) error {
	type job struct {
		client kubernetes.Interface
		name   string
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				svc := &corev1.Service{
					ObjectMeta: metav1.ObjectMeta{Name: j.name, Namespace: getNamespace, Labels: map[string]string{"app": j.name}},
					Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": j.name},
						Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
				}
				_, err := j.client.CoreV1().Services(getNamespace).Create(ctx, svc, metav1.CreateOptions{})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("creating Service %s: %w", j.name, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	var err error
	for _, c := range b.lab.Clusters[:n] {
		cfg := c.RESTConfig()
		cfg.QPS, cfg.Burst = 2000, 2000
		var client kubernetes.Interface
		if client, err = kubernetes.NewForConfig(cfg); err != nil {
			break
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: getNamespace}}
		if _, err = client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			break
		}
		var have int
		if have, err = serviceCount(ctx, client); err != nil {
			break
		}
		for i := have; i < count; i++ {
			jobs <- job{client: client, name: fmt.Sprintf("svc-%d", i)}
		}
	}
	close(jobs)
	wg.Wait()
	if err != nil {
		return err
	}
	return firstErr
}

// serviceCount returns how many Services a cluster holds in all
// namespaces, from a list of one and the count of the rest.
func serviceCount(ctx context.Context, client kubernetes.Interface) (int, error) {
	list, err := client.CoreV1().Services("").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("counting Services: %w", err)
	}
	n := len(list.Items)
	if list.RemainingItemCount != nil {
		n += int(*list.RemainingItemCount)
	} else if list.Continue != "" {
		return 0, fmt.Errorf("counting Services: the API server gave no count of the rest")
	}
	return n, nil
}

func (g *getRow) print() []report.Target {
	fmt.Printf("\nkubectl fed get svc -A over %d clusters of %d Services each (median of %d), against the members' own lists at once and kubectl get svc -A on each cluster in turn\n\n",
		g.clusters, g.services, g.rounds)
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTERS\tROWS\tKFED\tMEMBERS' LISTS\tKFED / LISTS\tKUBECTL IN TURN\tKUBECTL / KFED\tKFED CPU\tPLUGIN CPU\tCPU FLOOR\tKFED / FLOOR\tPEAK RSS")
	fl := floor(g.kfed.cpu)
	fmt.Fprintf(w, "%d\t%d\t%s\t%s\t%.2fx\t%s\t%.2fx\t%s\t%s\t%s\t%.2fx\t%s\n", g.clusters, g.rows, g.kfed.took.Round(time.Millisecond),
		g.lists.Round(time.Millisecond), report.Ratio(g.kfed.took, g.lists), g.baseline.Round(time.Millisecond),
		report.Ratio(g.baseline, g.kfed.took), g.kfed.cpu.Round(10*time.Millisecond), g.kfed.plugin.Round(10*time.Millisecond), fl.Round(time.Millisecond),
		report.Ratio(g.kfed.took, fl), mib(g.kfed.maxRSS))
	w.Flush()
	fmt.Printf("\nMEMBERS' LISTS is how long the members' API servers took to answer the lists the plugin makes (tables, %d a page,\n"+
		"consistent reads), every member at once, with the bodies read and dropped: no client can print the table sooner.\n"+
		"KFED CPU is the processor time of the plugin and of every lab program during the median kfed run, PLUGIN CPU the plugin's share.\n", getChunk)
	what, note := sized(servicesIn(g.clusters, g.services), servicesIn(full.steps[len(full.steps)-1], full.getServices))
	return []report.Target{{Name: report.GetAll, Case: fmt.Sprintf("%s, %d rows", what, g.rows),
		Figure: g.kfed.took.Round(time.Millisecond).String(),
		Baseline: fmt.Sprintf("members' own lists at once %s; kubectl get svc -A in turn %s",
			g.lists.Round(time.Millisecond), g.baseline.Round(time.Millisecond)),
		Target: "<= " + getTarget.String(), Met: g.kfed.took <= getTarget, Note: report.JoinNotes(note, g.why())}}
}

// why says, for a get over its bound, where the time went: in the
// members' own lists, which no client can beat, or in kfed.
func (g *getRow) why() string {
	if g.kfed.took <= getTarget {
		return ""
	}
	if g.lists >= getTarget {
		return fmt.Sprintf("the members alone took %s to answer their lists on this machine's %d cores, over the bound before kfed reads a row",
			g.lists.Round(time.Millisecond), runtime.NumCPU())
	}
	return fmt.Sprintf("kfed took %s over the members' own lists (%s), decoding, merging and printing %d rows beside them on %d cores",
		(g.kfed.took - g.lists).Round(time.Millisecond), g.lists.Round(time.Millisecond), g.rows, runtime.NumCPU())
}

// servicesIn is the size of a get: clusters of so many Services each.
func servicesIn(clusters, services int) string {
	return fmt.Sprintf("%s x %s Services", plural(clusters, "cluster"), report.Thousands(services))
}
