package plugin

// The last sync of each coredns-fed server in `kubectl fed status`: read
// from its pods' own metrics (coredns_fed_*_last_sync_timestamp_seconds),
// through each cluster's pod proxy with the caller's credentials.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
)

// The metrics a pod's last sync is read from, and the pod's port for them
// when it names none (deploy/coredns-fed/deployment.yaml).
const (
	hostLastSyncMetric   = "coredns_fed_host_last_sync_timestamp_seconds"
	memberLastSyncMetric = "coredns_fed_member_last_sync_timestamp_seconds"
	metricsPortName      = "metrics"
	metricsPort          = 9153
)

// PodSync is one coredns-fed pod behind a server, and when it last knew
// the host and every member to be current: the oldest of those, and which
// one that is.
type PodSync struct {
	Name     string       `json:"name"`
	LastSync *metav1.Time `json:"lastSync,omitempty"`
	// Oldest is what LastSync is of: "host", or a member's name.
	Oldest string `json:"oldest,omitempty"`
	Error  string `json:"error,omitempty"`
}

// readSyncs fills in the pods of every server found in a cluster: each
// cluster that has servers is asked once, in parallel, and each of its
// pods within the DNS timeout; finding the pods gets as long again.
func (o *StatusOptions) readSyncs(ctx context.Context, clusters []*dnsCluster, servers []ServerStatus) {
	has := map[string]bool{}
	for _, s := range servers {
		has[s.Cluster] = has[s.Cluster] || s.Cluster != "" && s.Address != ""
	}
	var asked []*dnsCluster
	for _, c := range clusters {
		if has[c.name] {
			asked = append(asked, c)
		}
	}
	results := fanout.Map(ctx, asked, fanout.Options{Timeout: 2 * o.DNSTimeout}, func(ctx context.Context, c *dnsCluster) ([]PodSync, error) {
		pods, err := o.host.callerPods(ctx, c)
		if err != nil {
			return nil, err
		}
		return podSyncs(ctx, pods, o.DNSTimeout)
	})
	for i, r := range results {
		for j := range servers {
			s := &servers[j]
			if s.Cluster != asked[i].name || s.Address == "" {
				continue
			}
			s.Pods = r.Value
			if r.Err != nil {
				s.SyncError = r.Err.Error()
			}
		}
	}
}

// podSyncs reads the last sync of every running coredns-fed pod, all at
// once, each within timeout: a pod that does not answer is an error of its
// own, and the others are still read.
func podSyncs(ctx context.Context, pods corev1client.PodInterface, timeout time.Duration) ([]PodSync, error) {
	running, err := runningFedPods(ctx, pods)
	if err != nil {
		return nil, err
	}
	read := fanout.Map(ctx, running, fanout.Options{Timeout: timeout}, func(ctx context.Context, p *corev1.Pod) ([]byte, error) {
		port, _ := podPort(p, metricsPortName, metricsPort)
		return pods.ProxyGet("http", p.Name, strconv.Itoa(port), "metrics", nil).DoRaw(ctx)
	})
	out := make([]PodSync, len(running))
	for i, r := range read {
		out[i].Name = running[i].Name
		err := r.Err
		if err == nil {
			err = lastSyncOf(r.Value, &out[i])
		}
		if err != nil {
			out[i].Error = fmt.Sprintf("reading its metrics through the pod proxy: %v", err)
		}
	}
	return out, nil
}

// lastSyncOf sets ps's last sync from a pod's metrics in Prometheus's text
// format: the oldest of its host and member gauges.
func lastSyncOf(body []byte, ps *PodSync) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return err
	}
	var oldest float64
	consider := func(m *dto.Metric, what string) {
		if v := m.GetGauge().GetValue(); ps.Oldest == "" || v < oldest {
			oldest, ps.Oldest = v, what
		}
	}
	for _, m := range families[hostLastSyncMetric].GetMetric() {
		consider(m, "host")
	}
	for _, m := range families[memberLastSyncMetric].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "cluster" {
				consider(m, l.GetValue())
			}
		}
	}
	if ps.Oldest == "" {
		return fmt.Errorf("no %s: it has not synced with the host yet, or runs an older coredns-fed", hostLastSyncMetric)
	}
	t := metav1.NewTime(time.UnixMilli(int64(oldest * 1000)))
	ps.LastSync = &t
	return nil
}

// podPort returns the pod's container port of that name, and whether the
// pod has one; def when it has none.
func podPort(p *corev1.Pod, name string, def int) (int, bool) {
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == name {
				return int(cp.ContainerPort), true
			}
		}
	}
	return def, false
}

// oldestSync returns the pod of s that synced longest ago, or nil when no
// pod's last sync is known.
func oldestSync(s ServerStatus) *PodSync {
	var oldest *PodSync
	for i := range s.Pods {
		p := &s.Pods[i]
		if p.LastSync != nil && (oldest == nil || p.LastSync.Before(oldest.LastSync)) {
			oldest = p
		}
	}
	return oldest
}

// lastSyncCell is a server's LAST SYNC: how long ago its pod that synced
// longest ago did, "-" for a server that is no pod of a cluster.
func lastSyncCell(s ServerStatus, now time.Time) string {
	if s.Cluster == "" || s.Address == "" {
		return "-"
	}
	p := oldestSync(s)
	if p == nil {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(p.LastSync.Time)) + " ago"
}

// syncProblems are the pods whose last sync is older than warn: they
// answer from what they knew then.
func syncProblems(servers []ServerStatus, now time.Time, warn time.Duration) []Problem {
	var out []Problem
	for _, s := range servers {
		for _, p := range s.Pods {
			if p.LastSync == nil || now.Sub(p.LastSync.Time) <= warn {
				continue
			}
			what := "member " + p.Oldest
			if p.Oldest == "host" {
				what = "the host"
			}
			out = append(out, Problem{Subject: "server " + serverName(s),
				Message: fmt.Sprintf("its pod %s last synced with %s %s ago, and answers from what it knew then", p.Name, what, duration.HumanDuration(now.Sub(p.LastSync.Time))),
				Fix:     fmt.Sprintf("kubectl logs -n %s %s --context %s says why it cannot reach the API server of %s", v1alpha1.Namespace, p.Name, s.Cluster, what)})
		}
	}
	return out
}

// warnSyncs says, once for each cluster, why the last sync of its pods is
// unknown: the table shows <unknown>.
func warnSyncs(w io.Writer, servers []ServerStatus) {
	said := map[string]bool{}
	for _, s := range servers {
		if said[s.Cluster] {
			continue
		}
		said[s.Cluster] = true
		if s.SyncError != "" {
			fmt.Fprintf(w, "Warning: the last sync of the coredns-fed pods of %s is unknown: %s\n", s.Cluster, s.SyncError)
		}
		for _, p := range s.Pods {
			if p.Error != "" {
				fmt.Fprintf(w, "Warning: the last sync of pod %s in %s is unknown: %s\n", p.Name, s.Cluster, p.Error)
			}
		}
	}
}
