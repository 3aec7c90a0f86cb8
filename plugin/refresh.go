package plugin

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
)

// refreshCredentials renews every credential of members that is due, with
// less than a third of its lifetime left, before the command uses them.
// Members are taken in parallel, each within timeout; a credential that is
// not due costs one read of its Secret in the host. A refresh that fails is
// a warning naming the cluster and the expiry, and the command goes on with
// the credential it has, which works until then.
func refreshCredentials(ctx context.Context, s *store.Store, members []v1alpha1.Cluster, timeout time.Duration, warn io.Writer) {
	now := time.Now()
	warnings := fanout.Map(ctx, members, fanout.Options{Concurrency: 8, Timeout: timeout},
		func(ctx context.Context, c v1alpha1.Cluster) ([]string, error) {
			var out []string
			// The manager first: the DNS reader's renewal reads the
			// manager's credential afresh.
			for _, id := range membership.Identities() {
				_, info, err := s.CredentialToken(ctx, &c, id)
				if err != nil || !info.RefreshDue(now) {
					// A credential that cannot be read is the command's own
					// business to report.
					continue
				}
				r := &membership.Renew{Host: s, Cluster: &c, Identity: id, Timeout: timeout}
				if _, err := r.Run(ctx); err != nil {
					out = append(out, refreshWarning(c.Name, id, info, now, err))
				}
			}
			return out, nil
		})
	for i, w := range warnings {
		if w.Err != nil {
			fmt.Fprintf(warn, "Warning: could not check the credentials of cluster %s: %v\n", members[i].Name, w.Err)
		}
		for _, line := range w.Value {
			fmt.Fprintln(warn, line)
		}
	}
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
// unless the command has nowhere to warn.
func (h *hostFlags) refresh(ctx context.Context, s *store.Store, fed *v1alpha1.Federation, members []v1alpha1.Cluster) {
	if h.errOut == nil {
		return
	}
	refreshCredentials(ctx, s, members, fed.ClusterTimeoutOrDefault(), h.errOut)
}
