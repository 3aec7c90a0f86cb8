package plugin

// The TOKENS column of `kubectl fed clusters` and its wide form: when each
// credential the host holds for a member expires.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/kfed-dev/kfed/pkg/fanout"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
)

// readTokens reads what each member's credential tokens say about
// themselves. A credential that cannot be read is left out; the probe
// reports why.
func readTokens(ctx context.Context, s *store.Store, rows []clusterRow) {
	fanout.Map(ctx, rows, fanout.Options{Concurrency: 8, Timeout: 10 * time.Second},
		func(ctx context.Context, r clusterRow) (struct{}, error) {
			for _, id := range membership.Identities() {
				if _, info, err := s.CredentialToken(ctx, r.cluster, id); err == nil {
					r.tokens[id] = info
				}
			}
			return struct{}{}, nil
		})
}

// tokensCell sums up a member's tokens: "expired" if one has, else
// "never" if one is of the older kind that does not expire, else
// "<unknown>" if one could not be read, else how long until the first
// expires.
func tokensCell(tokens map[string]store.TokenInfo, now time.Time) string {
	var expired, legacy, unknown bool
	var first time.Time
	for _, id := range membership.Identities() {
		info, ok := tokens[id]
		switch {
		case !ok:
			unknown = true
		case info.Legacy():
			legacy = true
		case !info.Expires.After(now):
			expired = true
		case first.IsZero() || info.Expires.Before(first):
			first = info.Expires
		}
	}
	switch {
	case expired:
		return "expired"
	case legacy:
		return store.Never
	case unknown:
		return "<unknown>"
	}
	return duration.HumanDuration(first.Sub(now))
}

// expiresCell is when one identity's token expires, as a time.
func expiresCell(tokens map[string]store.TokenInfo, identity string) string {
	info, ok := tokens[identity]
	switch {
	case !ok:
		return "<unknown>"
	case info.Legacy():
		return store.Never
	}
	return info.Expires.UTC().Format(time.RFC3339)
}

// printRotateHint names the members whose tokens never expire, have
// expired, or are due for a refresh, and the command that replaces them.
func printRotateHint(w io.Writer, rows []clusterRow, now time.Time) {
	var names []string
	for _, r := range rows {
		for _, info := range r.tokens {
			if info.Legacy() || info.RefreshDue(now) {
				names = append(names, r.cluster.Name)
				break
			}
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	fmt.Fprintf(w, "Tokens of %s never expire, have expired or are due for a refresh: replace them with kubectl fed rotate %s\n",
		strings.Join(names, ", "), strings.Join(names, " "))
}
