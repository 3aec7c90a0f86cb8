package dnsserver

import (
	"crypto/sha256"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// memberEntry is one Cluster of the federation and its watches.
type memberEntry struct {
	cluster Cluster
	// fingerprint identifies the credential the watches use.
	fingerprint [sha256.Size]byte
	// current answers; next, after a credential change, takes over once
	// it has synced, so that a token rotation costs no answers.
	current, next *memberWatch
	// credErr is why the member has no watch.
	credErr string
	// served are what the member serves as last known, by namespace/name:
	// from its watch once synced, or until then from the snapshot. known
	// is false while there is neither; source is the watch they were read
	// from, nil for the snapshot. total and healthy count their entry
	// points.
	served         map[string]*memberServed
	known          bool
	source         *memberWatch
	total, healthy int
}

// reconcile makes the member watches follow the host's Clusters and
// credentials. While the host is unreachable its caches keep the last
// membership, and so does this.
func (c *controller) reconcile(st hostState) {
	seen := map[string]bool{}
	for _, hm := range st.members {
		name := hm.cluster.Name
		seen[name] = true
		e := c.members[name]
		if e == nil {
			e = &memberEntry{served: map[string]*memberServed{}}
			c.members[name] = e
			log.Infof("Cluster %s joined federation %s", name, c.federation)
		}
		e.cluster = hm.cluster
		c.reconcileCredential(e, hm)
		if st.snapshot && hm.services != nil && !e.known && e.credErr == "" {
			c.replaceServices(e, hm.services)
		}
		if e.next != nil && e.next.settled(c.opts.StartupTimeout) {
			e.current.stop()
			e.current, e.next = e.next, nil
		}
	}
	for name, e := range c.members {
		if !seen[name] {
			log.Infof("Cluster %s left federation %s", name, c.federation)
			e.stopWatches()
			c.replaceServices(e, nil)
			forgetMember(c.server, name)
			delete(c.members, name)
		}
	}
}

// reconcileCredential (re)starts a member's watch when its credential
// appears or changes, and stops it when the credential goes.
func (c *controller) reconcileCredential(e *memberEntry, hm hostMember) {
	name := hm.cluster.Name
	if hm.kubeconfig == nil {
		// Usual for a moment while join or unjoin runs, so a warning.
		c.dropCredential(e, name, "its DNS-reader credential Secret "+hm.secret+
			" is missing (coredns-fed reads Secrets labelled "+v1alpha1.LabelIdentity+"="+v1alpha1.IdentityDNSReader+
			" in "+c.opts.SecretsNamespace+"; a member joined by an older kubectl-fed needs to join again)", log.Warningf)
		return
	}
	fp := sha256.Sum256(hm.kubeconfig)
	if fp == e.fingerprint && (e.current != nil || e.credErr != "") {
		return
	}
	e.fingerprint = fp
	// A new credential may be due for a refresh, or be one.
	c.tokens.wake()
	ns, secretName, _ := strings.Cut(hm.secret, "/")
	cfg, err := store.ConfigFromSecret(&corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: secretName},
		Data:       map[string][]byte{v1alpha1.SecretKeyKubeconfig: hm.kubeconfig},
	})
	if err != nil {
		c.dropCredential(e, name, err.Error(), log.Errorf)
		return
	}
	setTokenExpiry(c.server, name, cfg.BearerToken)
	w, err := startMemberWatch(name, memberConfig(cfg), c.memberChanged)
	if err != nil {
		c.dropCredential(e, name, err.Error(), log.Errorf)
		return
	}
	e.credErr = ""
	if e.current == nil {
		e.current = w
		return
	}
	log.Infof("The credential of cluster %s changed; watching with the new one", name)
	if e.next != nil {
		e.next.stop()
	}
	e.next = w
}

func (c *controller) dropCredential(e *memberEntry, name, why string, logf func(string, ...any)) {
	if e.credErr != why {
		logf("Cluster %s is not watched: %s", name, why)
	}
	e.credErr = why
	e.fingerprint = [sha256.Size]byte{}
	e.stopWatches()
	// Without a credential there is nothing to follow the member with.
	c.replaceServices(e, nil)
}

// handingOver reports whether a member has a new watch waiting to take
// over from the one that answers.
func (c *controller) handingOver() bool {
	for _, e := range c.members {
		if e.next != nil {
			return true
		}
	}
	return false
}

func (e *memberEntry) stopWatches() {
	for _, w := range []*memberWatch{e.current, e.next} {
		if w != nil {
			w.stop()
		}
	}
	e.current, e.next = nil, nil
}
