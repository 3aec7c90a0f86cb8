package dnsserver

import (
	"github.com/coredns/coredns/plugin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/kfed-dev/kfed/pkg/store"
)

// The plugin's metrics. Labels are bounded: the server, the member cluster
// (a federation has tens of members, not thousands), and small fixed sets
// of levels, outcomes, states and probe types. No metric is per Service or
// per address.
var (
	memberSyncState = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "member_sync_state",
		Help:      "Whether a member cluster's watch is in a state: 1 for its current state (syncing, synced, unreachable, no_credentials), 0 for the others.",
	}, []string{"server", "cluster", "state"})

	// The last sync gauges say when the server last knew its view to be
	// current: while a watch is listed and answering, every tick of the
	// controller moves them on; once its API server stops answering they
	// stay, and their age is how old the answers built from it are.
	hostLastSync = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "host_last_sync_timestamp_seconds",
		Help:      "When the host's Federation, Clusters and credentials were last known current (listed, and the host answering), in seconds since the epoch.",
	}, []string{"server"})

	memberLastSync = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "member_last_sync_timestamp_seconds",
		Help:      "When a member cluster's Services and EndpointSlices were last known current (listed, and its API server answering), in seconds since the epoch.",
	}, []string{"server", "cluster"})

	entryPoints = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "entry_points",
		Help:      "Entry points (load-balancer addresses and host names, external IPs) of served Services in a member cluster.",
	}, []string{"server", "cluster"})

	readerTokenExpiry = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "member_token_expiry_timestamp_seconds",
		Help:      "When the DNS-reader token a member cluster is watched with expires, in seconds since the epoch; absent for a token that never expires.",
	}, []string{"server", "cluster"})

	tokenRefreshes = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "token_refreshes_total",
		Help:      "Refreshes of a member cluster's DNS-reader token by coredns-fed, by result (success, failure, conflict: someone else refreshed it first).",
	}, []string{"server", "cluster", "result"})

	healthyEntryPoints = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "healthy_entry_points",
		Help:      "Entry points of served Services in a member cluster that are served: ready endpoints and passing probes.",
	}, []string{"server", "cluster"})

	probeDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:                   plugin.Namespace,
		Subsystem:                   pluginName,
		Name:                        "probe_duration_seconds",
		Help:                        "Duration of entry-point health probes.",
		Buckets:                     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		NativeHistogramBucketFactor: plugin.NativeHistogramBucketFactor,
	}, []string{"server", "cluster", "type"})

	probeFailures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "probe_failures_total",
		Help:      "Entry-point health probes that failed.",
	}, []string{"server", "cluster", "type"})

	answers = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "answers_total",
		Help:      "Answers by the level of the name asked (apex, global, region, zone, cluster, other) and outcome (success, fallback, fail_open, nodata, nxdomain, servfail, refused, notimp).",
	}, []string{"server", "level", "outcome"})

	policyAnswers = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "policy_answers_total",
		Help:      "Service answers by the policy applied (geo, latency, weighted, failover, all; after any fallback) and the first member in the answer.",
	}, []string{"server", "policy", "cluster"})

	locationLookups = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "client_location_lookups_total",
		Help:      "Lookups of clients' locations by result (found, not_found, private, metadata, no_database).",
	}, []string{"server", "result"})

	geoReloadsTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "geoip_reloads_total",
		Help:      "Reloads of the geoip database after its file changed, by result (success, failure).",
	}, []string{"result"})

	dnssecSignatures = promauto.NewCounterVec(prometheus.CounterOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "dnssec_signatures_total",
		Help:      "Signatures put in answers, by source: made for the answer, or cached.",
	}, []string{"source"})

	dnssecKeys = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: plugin.Namespace,
		Subsystem: pluginName,
		Name:      "dnssec_key_info",
		Help:      "1 for each key of the DNSSEC key set signed with, by role (ksk, zsk), tag and state (published, active, retired).",
	}, []string{"role", "tag", "state"})

	rebuildDuration = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:                   plugin.Namespace,
		Subsystem:                   pluginName,
		Name:                        "index_rebuild_duration_seconds",
		Help:                        "Time to rebuild the answer index after a change.",
		Buckets:                     []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		NativeHistogramBucketFactor: plugin.NativeHistogramBucketFactor,
	}, []string{"server"})
)

// The member states of memberSyncState.
const (
	stateSyncing       = "syncing"
	stateSynced        = "synced"
	stateUnreachable   = "unreachable"
	stateNoCredentials = "no_credentials"
)

var memberStates = [...]string{stateSyncing, stateSynced, stateUnreachable, stateNoCredentials}

// The outcomes of answers.
const (
	outcomeSuccess  = "success"
	outcomeFallback = "fallback"
	outcomeFailOpen = "fail_open"
	outcomeNoData   = "nodata"
	outcomeNXDomain = "nxdomain"
	outcomeServFail = "servfail"
	// outcomeRefused is a zone transfer asked for (RFC 5936, section 4.2:
	// a server that does not transfer the zone answers REFUSED).
	outcomeRefused = "refused"
	// outcomeNotImp is an opcode other than QUERY, such as NOTIFY (RFC
	// 1996) or UPDATE (RFC 2136), which both allow NOTIMP.
	outcomeNotImp = "notimp"
)

// setMemberState sets the state of a member's gauge set.
func setMemberState(server, cluster, state string) {
	for _, s := range memberStates {
		v := 0.0
		if s == state {
			v = 1
		}
		memberSyncState.WithLabelValues(server, cluster, s).Set(v)
	}
}

// setTokenExpiry records when the token a member is watched with expires,
// read from the token's claims; a token that never expires, or is not a
// JWT, has no series.
func setTokenExpiry(server, cluster, token string) {
	info, err := store.ParseToken(token)
	if err != nil || info.Legacy() {
		readerTokenExpiry.DeleteLabelValues(server, cluster)
		return
	}
	readerTokenExpiry.WithLabelValues(server, cluster).Set(float64(info.Expires.Unix()))
}

// forgetMember drops a member's series once it has left the federation.
func forgetMember(server, cluster string) {
	for _, s := range memberStates {
		memberSyncState.DeleteLabelValues(server, cluster, s)
	}
	memberLastSync.DeleteLabelValues(server, cluster)
	entryPoints.DeleteLabelValues(server, cluster)
	healthyEntryPoints.DeleteLabelValues(server, cluster)
	readerTokenExpiry.DeleteLabelValues(server, cluster)
	for _, r := range [...]string{refreshSuccess, refreshFailure, refreshConflict} {
		tokenRefreshes.DeleteLabelValues(server, cluster, r)
	}
	for _, t := range [...]string{probeTCP, probeHTTP, probeHTTPS} {
		probeDuration.DeleteLabelValues(server, cluster, t)
		probeFailures.DeleteLabelValues(server, cluster, t)
	}
}
