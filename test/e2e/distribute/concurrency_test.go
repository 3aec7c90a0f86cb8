//go:build e2e

package distribute

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kfed-dev/kfed/pkg/inventory"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestConcurrentApplies is issue 13's done-when 4: two applies of the same
// objects with different content, started together, twenty times. Each
// time, either one fails at once because the other holds the federation's
// lock, or both succeed one after the other; and afterwards every member
// and the inventory agree on one content, never half of each.
func TestConcurrentApplies(t *testing.T) {
	const (
		ns      = "race"
		objects = 20
		rounds  = 20
	)
	contents := []string{"a", "b"}
	files := map[string]string{}
	for _, c := range contents {
		var b strings.Builder
		fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
		for i := range objects {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%02d\n  namespace: %s\ndata:\n  content: %s\n", i, ns, c)
		}
		files[c] = manifest(t, b.String())
	}
	s, err := store.New(testLab.Cluster(hostCtx).RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.New(s, "magicring")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t's context is done by now.
		if res, err := kubectl.Run(context.Background(), "fed", "delete", "-f", files["a"], "--context", hostCtx); err != nil || res.ExitCode != 0 {
			t.Errorf("cleaning up: %v\n%s", err, res)
		}
		// The next run (-count) creates the namespace again: wait until
		// the members have finished deleting it.
		for _, m := range members {
			err := framework.Poll(context.Background(), time.Minute, 200*time.Millisecond, func(ctx context.Context) error {
				_, err := testLab.Cluster(m).Client().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return nil
				}
				return fmt.Errorf("namespace %s still in %s (%v)", ns, m, err)
			})
			if err != nil {
				t.Errorf("cleaning up: %v", err)
			}
		}
	})

	locked, both := 0, 0
	for round := range rounds {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		started := map[string]<-chan framework.Result{}
		for _, c := range contents {
			started[c] = kubectl.Start(ctx, "fed", "apply", "-f", files[c], "--context", hostCtx)
		}
		results := map[string]framework.Result{}
		for _, c := range contents {
			results[c] = <-started[c]
		}
		cancel()
		var won []string
		for _, c := range contents {
			res := results[c]
			switch {
			case res.ExitCode == 0:
				won = append(won, c)
			case strings.Contains(res.Stderr, "the federation is locked by kubectl fed apply"):
				locked++
			default:
				t.Fatalf("round %d: apply of %s failed, and not for the lock:\n%s", round, c, res)
			}
		}
		if len(won) == 0 {
			t.Fatalf("round %d: neither apply succeeded:\n%s\n%s", round, results["a"], results["b"])
		}
		if len(won) == 2 {
			both++
		}
		agreed := agreedContent(t, ns, objects, inv)
		if len(won) == 1 && agreed != won[0] {
			t.Fatalf("round %d: only the apply of %q succeeded, but members and inventory hold %q", round, won[0], agreed)
		}
	}
	t.Logf("%d rounds: %d applies refused for the lock, %d rounds where both ran one after the other", rounds, locked, both)
	if locked == 0 {
		t.Error("no apply ever found the lock held: the two did not overlap, and the test proved nothing")
	}
}

// agreedContent checks that every member and the inventory hold the same
// content for every object, and returns it.
func agreedContent(t *testing.T, ns string, objects int, inv *inventory.Inventory) string {
	t.Helper()
	seen := map[string][]string{}
	for _, m := range members {
		list, err := testLab.Cluster(m).Client().CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, cm := range list.Items {
			if strings.HasPrefix(cm.Name, "cm-") {
				n++
				seen[cm.Data["content"]] = append(seen[cm.Data["content"]], m+"/"+cm.Name)
			}
		}
		if n != objects {
			t.Fatalf("%s holds %d of the %d ConfigMaps", m, n, objects)
		}
	}
	entries, err := inv.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Template.GetNamespace() != ns || e.Template.GetKind() != "ConfigMap" {
			continue
		}
		n++
		content, _, _ := unstructured.NestedString(e.Template.Object, "data", "content")
		seen[content] = append(seen[content], "inventory/"+e.Template.GetName())
	}
	if n != objects {
		t.Fatalf("the inventory records %d of the %d ConfigMaps", n, objects)
	}
	if len(seen) != 1 {
		for c, where := range seen {
			t.Errorf("content %q in %d places, such as %s", c, len(where), where[0])
		}
		t.FailNow()
	}
	for c := range seen {
		return c
	}
	return ""
}
