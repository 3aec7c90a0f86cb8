package dnsserver

// coredns-fed keeps the DNS-reader tokens it reads the members with fresh
// by itself: kubectl fed refreshes them only when a command runs, and a
// federation left alone for a token's lifetime would otherwise lose every
// member from DNS. A token is due once less than a third of its lifetime is
// left, as kubectl fed judges it; coredns-fed then asks the member, with
// the reader's own token, for a token of the same lifetime bound to the same
// anchor, and writes it into the host's Secret. The Secret's watch hands it
// to the member's watch like any credential change (see controller.go).

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kfed-dev/kfed/pkg/kube"
	"github.com/kfed-dev/kfed/pkg/store"
)

// defaultTokenRefreshCheck is how often the tokens are looked at, unless
// the Corefile's token_refresh_check says otherwise. A check reads the
// tokens' claims from the cache and calls no API unless one is due.
const defaultTokenRefreshCheck = 10 * time.Minute

// The results of token_refreshes_total.
const (
	refreshSuccess = "success"
	refreshFailure = "failure"
	// refreshConflict is a refresh whose write found the Secret changed:
	// another coredns-fed, or kubectl fed, renewed it first, and its token
	// is the one used.
	refreshConflict = "conflict"
)

// tokenRefresher checks the DNS readers' tokens of one federation on a
// timer and whenever a credential changes, and refreshes those due.
type tokenRefresher struct {
	server string
	every  time.Duration
	host   *hostWatch
	// kube writes the refreshed credentials into the host.
	kube *kube.Client
	kick chan struct{}

	// The rest belongs to run.
	// replaced holds, by member, the resourceVersion of the Secret it last
	// replaced: until the watch brings the new one, the cache still shows
	// the old token, which is not to be refreshed twice.
	replaced map[string]string
}

func newTokenRefresher(server string, every time.Duration, host *hostWatch, client *kube.Client) *tokenRefresher {
	if every <= 0 {
		every = defaultTokenRefreshCheck
	}
	return &tokenRefresher{server: server, every: every, host: host, kube: client,
		kick: make(chan struct{}, 1), replaced: map[string]string{}}
}

// start runs the checks until ctx ends, counting the goroutine in wg.
func (r *tokenRefresher) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.run(ctx)
	}()
}

// wake asks for a check, as when a credential changed; it never blocks.
func (r *tokenRefresher) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// run checks on every wake and every interval, with up to a tenth more at
// random, so that the servers of a federation do not all check at once.
func (r *tokenRefresher) run(ctx context.Context) {
	timer := time.NewTimer(wait.Jitter(r.every, 0.1))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-timer.C:
			timer.Reset(wait.Jitter(r.every, 0.1))
		}
		r.check(ctx, time.Now())
	}
}

// check refreshes every member's token that is due. Only the host's
// synced caches are trusted: a snapshot's tokens may be long replaced.
func (r *tokenRefresher) check(ctx context.Context, now time.Time) {
	if !r.host.synced() {
		return
	}
	members := r.host.state().members
	known := make(map[string]bool, len(members))
	for _, m := range members {
		known[m.cluster.Name] = true
	}
	for name := range r.replaced {
		if !known[name] {
			delete(r.replaced, name)
		}
	}
	for _, m := range members {
		if ctx.Err() != nil {
			return
		}
		secret := r.host.cachedSecret(m.secret)
		name := m.cluster.Name
		if secret == nil || r.replaced[name] == secret.ResourceVersion {
			continue
		}
		info, due := readerTokenDue(secret, now)
		if !due {
			continue
		}
		fresh, err := r.refresh(ctx, name, secret, info)
		switch {
		case errors.Is(err, errRefreshRaced):
			tokenRefreshes.WithLabelValues(r.server, name, refreshConflict).Inc()
			log.Infof("The DNS-reader token of cluster %s was refreshed by someone else meanwhile; using theirs", name)
		case err != nil:
			tokenRefreshes.WithLabelValues(r.server, name, refreshFailure).Inc()
			log.Warning(refreshFailed(name, info, now, r.every, err))
		default:
			r.replaced[name] = secret.ResourceVersion
			tokenRefreshes.WithLabelValues(r.server, name, refreshSuccess).Inc()
			log.Infof("Refreshed the DNS-reader token of cluster %s: the old one expires at %s, the new one at %s",
				name, info.Expires.Format(time.RFC3339), fresh.Expires.Format(time.RFC3339))
		}
	}
}

// readerTokenDue reads what the token of a DNS-reader credential Secret
// says about itself, and reports whether coredns-fed should refresh it
// now: it expires, less than a third of its lifetime is left, and it names
// the issue time, its ServiceAccount and the anchor it is bound to, which
// the new token needs. Tokens of the older kind, which never expire, and
// tokens bound to nothing are left alone: `kubectl fed rotate` replaces
// them. So is a Secret coredns-fed refuses to read, which the member's
// watch reports.
func readerTokenDue(secret *corev1.Secret, now time.Time) (store.TokenInfo, bool) {
	_, info, err := store.SecretToken(secret)
	if err != nil || info.Legacy() || info.IssuedAt.IsZero() ||
		info.BoundSecret == "" || info.BoundSecretUID == "" || info.ServiceAccount == "" {
		return info, false
	}
	return info, info.RefreshDue(now)
}

// refreshFailed is the warning of a refresh that failed: which member,
// until when its token works, why, and when it is tried again or what to do
// once it has expired. It never holds the token.
func refreshFailed(cluster string, info store.TokenInfo, now time.Time, every time.Duration, err error) string {
	exp := info.Expires.Format(time.RFC3339)
	if !info.Expires.After(now) {
		return "Could not refresh the DNS-reader token of cluster " + cluster + ", which expired at " + exp + ": " + err.Error() +
			"; the member is not watched until it gets a new token: kubectl fed rotate " + cluster + " --identity dns-reader"
	}
	return "Could not refresh the DNS-reader token of cluster " + cluster + ", which expires at " + exp +
		" (in " + duration.HumanDuration(info.Expires.Sub(now)) + "): " + err.Error() +
		"; trying again within " + duration.HumanDuration(every+every/10)
}
