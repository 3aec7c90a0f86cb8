package plugin

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/distribute"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// What diff and sync say of objects that members refuse. Such an object is
// typically recorded by an older kfed that recorded writes that failed
// everywhere: an invalid name, say. Writing it again can only fail the same
// way, so neither command may promise that it will be created; both say
// what does help.

// resultsByCluster returns a record's last result in each member.
func resultsByCluster(r *v1alpha1.FederatedObject) map[string]v1alpha1.ClusterResult {
	m := map[string]v1alpha1.ClusterResult{}
	for _, c := range r.Status.Clusters {
		m[c.Name] = c
	}
	return m
}

// placedIn reports whether the last write to cluster put the object there.
func placedIn(results map[string]v1alpha1.ClusterResult, cluster string) bool {
	switch results[cluster].Action {
	case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
		return true
	}
	return false
}

// neverPlaced reports whether a record says that every write of its object
// failed: no member holds it, and at least one refused or missed it.
func neverPlaced(r *v1alpha1.FederatedObject) bool {
	failed := false
	for _, c := range r.Status.Clusters {
		switch c.Action {
		case v1alpha1.ActionCreated, v1alpha1.ActionConfigured, v1alpha1.ActionUnchanged:
			return false
		case v1alpha1.ActionFailed:
			failed = true
		}
	}
	return failed
}

// refusedHint says what to do about an object a member refuses; e is its
// inventory entry, or nil.
func refusedHint(d distribute.Difference, e *inventory.Entry) string {
	switch {
	case !d.Lasting:
		return "a write there fails for now; apply or sync may succeed once that has passed"
	case d.Exists:
		return "apply and sync fail on it until its manifest is fixed and applied"
	case e != nil && neverPlaced(e.Record):
		return fmt.Sprintf("no member ever accepted it, and neither apply nor sync can create it as it is: fix its manifest and apply it, or take it out of the federation with `%s`",
			deleteCommands([]inventory.Key{d.Key})[0])
	default:
		return "neither apply nor sync can create it there as it is: fix its manifest or its placement and apply it"
	}
}

// deleteCommands returns the `kubectl fed delete` commands that take the
// objects of keys out of the federation: one per namespace.
func deleteCommands(keys []inventory.Key) []string {
	byNamespace := map[string][]string{}
	for _, k := range keys {
		typ := strings.ToLower(k.Kind)
		if k.Group != "" {
			typ += "." + k.Group
		}
		byNamespace[k.Namespace] = append(byNamespace[k.Namespace], shellQuote(typ+"/"+k.Name))
	}
	var out []string
	for _, ns := range sortedKeys(byNamespace) {
		cmd := "kubectl fed delete " + strings.Join(byNamespace[ns], " ")
		if ns != "" {
			cmd += " -n " + shellQuote(ns)
		}
		out = append(out, cmd)
	}
	return out
}

// shellQuote quotes s for a POSIX shell when it needs it: refused objects
// are the ones with odd names.
func shellQuote(s string) string {
	plain := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._/:=", c)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
