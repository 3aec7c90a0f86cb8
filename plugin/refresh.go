package plugin

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
)

// refreshCredentials renews every credential of members that is due, with
// less than a third of its lifetime left, before the command uses them.
// Members are taken in parallel, each within timeout; a credential that is
// not due costs one read of its Secret in the host, a member's credentials
// read at once. A refresh that fails is a warning naming the cluster and
// the expiry, and the command goes on with the credential it has, which
// works until then. It returns the manager credential Secrets it read and
// left as they were, by cluster name, so that the command need not read
// them again.
func refreshCredentials(ctx context.Context, s *store.Store, members []v1alpha1.Cluster, timeout time.Duration, warn io.Writer) map[string]*corev1.Secret {
	now := time.Now()
	type checked struct {
		warnings []string
		manager  *corev1.Secret
	}
	results := fanout.Map(ctx, members, fanout.Options{Concurrency: 8, Timeout: timeout},
		func(ctx context.Context, c v1alpha1.Cluster) (checked, error) {
			ids := membership.Identities()
			secrets := make([]*corev1.Secret, len(ids))
			infos := make([]store.TokenInfo, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					secrets[i], infos[i], errs[i] = s.CredentialToken(ctx, &c, id)
				}()
			}
			wg.Wait()
			var out checked
			// The manager first: the DNS reader's renewal reads the
			// manager's credential afresh.
			for i, id := range ids {
				if errs[i] != nil {
					// A credential that cannot be read is the command's
					// own business to report.
					continue
				}
				if !infos[i].RefreshDue(now) {
					if id == v1alpha1.IdentityManager {
						out.manager = secrets[i]
					}
					continue
				}
				r := &membership.Renew{Host: s, Cluster: &c, Identity: id, Timeout: timeout, IfDue: true}
				if _, err := r.Run(ctx); err != nil {
					out.warnings = append(out.warnings, refreshWarning(c.Name, id, infos[i], now, err))
				}
			}
			return out, nil
		})
	managers := map[string]*corev1.Secret{}
	for i, r := range results {
		if r.Err != nil {
			fmt.Fprintf(warn, "Warning: could not check the credentials of cluster %s: %v\n", members[i].Name, r.Err)
			continue
		}
		for _, line := range r.Value.warnings {
			fmt.Fprintln(warn, line)
		}
		if r.Value.manager != nil {
			managers[members[i].Name] = r.Value.manager
		}
	}
	return managers
}

// refreshWarning says which credential could not be refreshed, until when
// it works, and what to do.
func refreshWarning(cluster, identity string, info store.TokenInfo, now time.Time, err error) string {
	when := "expires in " + duration.HumanDuration(info.Expires.Sub(now))
	fix := "run `kubectl fed rotate " + cluster + "` once it can be reached"
	if !info.Expires.After(now) {
		when = "expired " + duration.HumanDuration(now.Sub(info.Expires)) + " ago"
		fix = "join it again with --cluster-context to issue new tokens"
	}
	return fmt.Sprintf("Warning: the %s token of cluster %s %s (%s) and could not be refreshed: %v; %s",
		identity, cluster, when, info.Expires.Format(time.RFC3339), err, fix)
}

// refresh runs refreshCredentials for a command that loaded the members,
// unless the command has nowhere to warn, and returns the manager
// credentials it read unchanged (none when it did not run).
func (h *hostFlags) refresh(ctx context.Context, s *store.Store, fed *v1alpha1.Federation, members []v1alpha1.Cluster) map[string]*corev1.Secret {
	if h.errOut == nil {
		return nil
	}
	return refreshCredentials(ctx, s, members, fed.ClusterTimeoutOrDefault(), h.errOut)
}
