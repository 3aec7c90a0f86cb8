package plugin

// What `kubectl fed status` found: the tables it prints, and what -o json
// and -o yaml give scripts.

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/store"
)

// FederationStatus is the state of a federation, and what needs action.
type FederationStatus struct {
	Federation string         `json:"federation"`
	Domain     string         `json:"domain"`
	Members    []MemberStatus `json:"members"`
	Servers    []ServerStatus `json:"servers"`
	// DNSNote says why no server is shown, when none was found and
	// none is missing: coredns-fed was never installed.
	DNSNote string `json:"dnsNote,omitempty"`
	// Problems are what needs action; none means the exit status is 0.
	Problems []Problem `json:"problems"`
}

// MemberStatus is one member: its API server, its credentials and the
// federated objects in it.
type MemberStatus struct {
	Name   string `json:"name"`
	Server string `json:"server,omitempty"`
	Ready  bool   `json:"ready"`
	// Reason is one of the Cluster's Ready condition reasons;
	// Message explains a member that is not Ready.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Version string `json:"version,omitempty"`
	// LatencyMilliseconds is the round trip of a version request.
	LatencyMilliseconds float64       `json:"latencyMilliseconds,omitempty"`
	Tokens              []TokenStatus `json:"tokens"`

	// Placed counts the objects the inventory records as written there.
	Placed int `json:"placed"`
	// Pending names the objects whose write or deletion there is not
	// done: kubectl fed sync finishes them.
	Pending []string `json:"pending"`
	// Drifted names the placed objects that differ from what kfed
	// wrote, or that are gone; nil when they were not compared.
	Drifted []string `json:"drifted"`
	// CompareErrors are the comparisons that failed.
	CompareErrors []string `json:"compareErrors,omitempty"`

	latency time.Duration
	tokens  map[string]store.TokenInfo
}

// TokenStatus is one of a member's credentials.
type TokenStatus struct {
	Identity string `json:"identity"`
	// Readable is false when the host's credential Secret cannot be read.
	Readable bool `json:"readable"`
	// IssuedAt and Expires are absent for a token that never expires.
	IssuedAt *metav1.Time `json:"issuedAt,omitempty"`
	Expires  *metav1.Time `json:"expires,omitempty"`
}

// ServerStatus is one coredns-fed server, as DNS shows it.
type ServerStatus struct {
	// Address is ADDRESS:PORT; empty when the Service has no
	// load-balancer address.
	Address string `json:"address,omitempty"`
	// Cluster is where its Service is; empty for a --server.
	Cluster string `json:"cluster,omitempty"`
	Host    bool   `json:"host,omitempty"`
	// Answering is whether it answered for the zone's SOA at all.
	Answering bool `json:"answering"`
	// Synced is whether it gave the SOA: coredns-fed answers SERVFAIL
	// until it has synced with the host and the members.
	Synced bool   `json:"synced"`
	Serial uint32 `json:"serial,omitempty"`
	// SOA is the SOA record's data, for comparing servers.
	SOA string `json:"soa,omitempty"`
	// Agrees is whether its SOA is the one most servers give; Stale
	// whether its serial is not the Federation's.
	Agrees bool `json:"agrees"`
	Stale  bool `json:"stale"`
	// Error says what went wrong in asking it.
	Error string `json:"error,omitempty"`
	// Pods are the coredns-fed pods of its cluster with their last sync,
	// read from their metrics; SyncError says why they could not be.
	Pods      []PodSync `json:"pods,omitempty"`
	SyncError string    `json:"syncError,omitempty"`
}

// Problem is one thing that needs action, and the command that fixes it.
type Problem struct {
	Subject string `json:"subject"`
	Message string `json:"message"`
	Fix     string `json:"fix"`
}

// newMemberStatus fills a member's row from its probe and tokens.
func newMemberStatus(r clusterRow, identities []string) MemberStatus {
	m := MemberStatus{
		Name: r.cluster.Name, Server: r.cluster.Spec.Server,
		Ready: r.health.Ready, Reason: r.health.Reason, Version: r.health.Version,
		Pending: []string{}, tokens: r.tokens,
	}
	if !m.Ready {
		m.Message = oneLine(r.health.Message)
	}
	if m.Ready || m.Version != "" {
		m.latency = r.health.Latency
		m.LatencyMilliseconds = float64(r.health.Latency.Microseconds()) / 1000
	}
	for _, id := range identities {
		info, ok := r.tokens[id]
		t := TokenStatus{Identity: id, Readable: ok}
		if ok && !info.Legacy() {
			issued, expires := metav1.NewTime(info.IssuedAt), metav1.NewTime(info.Expires)
			t.IssuedAt, t.Expires = &issued, &expires
		}
		m.Tokens = append(m.Tokens, t)
	}
	return m
}
