//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// configMaps writes a manifest of a Namespace and n ConfigMaps in it.
func configMaps(t *testing.T, ns string, n int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\n  namespace: %s\ndata:\n  i: %q\n", i, ns, fmt.Sprint(i))
	}
	return manifest(t, b.String())
}

// heldIn lists the ConfigMaps of ns that a member holds, by name.
func heldIn(ctx context.Context, cluster, ns string) (map[string]bool, error) {
	cfg := testLab.Cluster(cluster).RESTConfig()
	cfg.Timeout = 5 * time.Second
	list, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, cm := range list.Items {
		if strings.HasPrefix(cm.Name, "cm-") {
			out[cm.Name] = true
		}
	}
	return out, nil
}

// recorded returns the inventory's records of the ConfigMaps of ns, by name.
func recorded(t *testing.T, ns string) map[string]*v1alpha1.FederatedObject {
	t.Helper()
	s, err := store.New(testLab.Cluster(hostCtx).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New(s, "magicring")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := inv.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*v1alpha1.FederatedObject{}
	for _, e := range entries {
		if k := e.Key(); k.Namespace == ns && k.Kind == "ConfigMap" {
			out[k.Name] = e.Record
		}
	}
	return out
}

// knows reports whether a record says the object may be in a member: any
// result there but deleted.
func knows(rec *v1alpha1.FederatedObject, cluster string) bool {
	if rec == nil {
		return false
	}
	for _, c := range rec.Status.Clusters {
		if c.Name == cluster {
			return c.Action != v1alpha1.ActionDeleted
		}
	}
	return false
}

// actionsIn counts a member's results in records, by action.
func actionsIn(records map[string]*v1alpha1.FederatedObject, cluster string) map[string]int {
	out := map[string]int{}
	for _, rec := range records {
		for _, c := range rec.Status.Clusters {
			if c.Name == cluster {
				out[c.Action]++
			}
		}
	}
	return out
}

// checkKnown fails the test for every ConfigMap of ns that a member holds
// and the inventory does not know there.
func checkKnown(t *testing.T, ns string) map[string]*v1alpha1.FederatedObject {
	t.Helper()
	records := recorded(t, ns)
	for _, m := range members {
		held, err := heldIn(context.Background(), m, ns)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		var unknown []string
		for name := range held {
			if !knows(records[name], m) {
				unknown = append(unknown, name)
			}
		}
		sort.Strings(unknown)
		if len(unknown) > 0 {
			t.Errorf("%s holds %d ConfigMaps of %s that the inventory does not know there, such as %v", m, len(unknown), ns, unknown[:min(5, len(unknown))])
		}
		t.Logf("%s holds %d ConfigMaps of %s; the inventory says %v there", m, len(held), ns, actionsIn(records, m))
	}
	return records
}

// waitHeld waits until a member holds at least n ConfigMaps of ns.
func waitHeld(t *testing.T, cluster, ns string, n int) {
	t.Helper()
	eventually(t, 2*time.Minute, fmt.Sprintf("%s holding %d ConfigMaps of %s", cluster, n, ns), func(ctx context.Context) error {
		held, err := heldIn(ctx, cluster, ns)
		if err != nil {
			return err
		}
		if len(held) < n {
			return fmt.Errorf("%d so far", len(held))
		}
		return nil
	})
}

// unlocked runs `kubectl fed ARGS --context usa`, again while the
// federation is locked by a command that was killed (the lock frees itself
// within fedlock.Duration), and returns its result.
func unlocked(t *testing.T, args ...string) framework.Result {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		res, err := kubectl.Run(context.Background(), append(append([]string{"fed"}, args...), "--context", hostCtx)...)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(res.Stderr, "the federation is locked") || time.Now().After(deadline) {
			t.Logf("$ kubectl %s: exit %d after %s", strings.Join(res.Args, " "), res.ExitCode, res.Duration.Round(time.Millisecond))
			return res
		}
		time.Sleep(2 * time.Second)
	}
}

// deleteAll runs `kubectl fed delete -f path`, which must exit 0.
func deleteAll(t *testing.T, path string) {
	t.Helper()
	if res := unlocked(t, "delete", "-f", path); res.ExitCode != 0 {
		t.Fatalf("delete -f %s:\n%s", path, res)
	}
}
