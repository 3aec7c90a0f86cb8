//go:build e2e

package federation

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/inventory"
)

// unjoinRecords is how many inventory records name the member the tests
// unjoin: enough that one record a request at client-go's default 5 a
// second would take a minute.
const unjoinRecords = 300

// TestUnjoinBulkAndResumable is issue 13's done-when 3: unjoin takes a
// member out of hundreds of records at once, and an unjoin interrupted at
// any point (SIGKILL, whatever it was doing) is finished by running it
// again, without --force, with nothing reported left that is not.
func TestUnjoinBulkAndResumable(t *testing.T) {
	ensureJoined(t, "usa", "eur", "jpn")
	file := distributeConfigMaps(t, "unjoin-bulk", unjoinRecords)
	t.Cleanup(func() {
		if res, err := kubectl.Run(context.Background(), "fed", "delete", "-f", file, "--context", hostCtx, "--federation", fedName); err != nil || res.ExitCode != 0 {
			t.Logf("cleaning up: %v\n%s", err, res)
		}
	})

	t.Run("bulk", func(t *testing.T) {
		begin := time.Now()
		res := kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur")
		took := time.Since(begin)
		t.Logf("unjoin out of %d records took %s:\n%s", unjoinRecords, took.Round(10*time.Millisecond), res.Stdout)
		// The ConfigMaps, and their namespace.
		if want := fmt.Sprintf("took %q out of %d inventory records", "eur", unjoinRecords+1); !strings.Contains(res.Stdout, want) {
			t.Errorf("unjoin did not say %q", want)
		}
		if n := recordsNaming(t, "eur"); n != 0 {
			t.Errorf("%d records still name eur", n)
		}
		// One record a request at 5 a second would be a minute.
		if took > 30*time.Second {
			t.Errorf("unjoin took %s for %d records", took, unjoinRecords)
		}
		waitMemberClean(t, testLab.Cluster("eur"))
	})

	t.Run("interrupted by the host's side", func(t *testing.T) {
		// What an unjoin killed after it cleaned the member and deleted the
		// credentials leaves: the Cluster marked, no credentials, records
		// still naming the member.
		ensureJoined(t, "eur")
		kubectl.Succeed(t, "fed", "apply", "-f", file, "--context", hostCtx, "--federation", fedName)
		s := hostStore(t)
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.AnnotationUnjoin, v1alpha1.UnjoinMemberCleaned)
		if _, err := s.Clusters.Patch(t.Context(), "eur", "application/merge-patch+json", []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		c, err := s.Clusters.Get(t.Context(), "eur", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		secrets, err := s.CredentialSecrets(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range secrets {
			if err := s.Kube.CoreV1().Secrets(sec.Namespace).Delete(t.Context(), sec.Name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		res := kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName)
		if !strings.Contains(res.Stdout, "an earlier unjoin cleaned") || strings.Contains(res.Stdout, "left in") {
			t.Errorf("the second unjoin should finish in the host and list nothing as left:\n%s", res.Stdout)
		}
		if n := recordsNaming(t, "eur"); n != 0 {
			t.Errorf("%d records still name eur", n)
		}
		if _, err := s.Clusters.Get(t.Context(), "eur", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("cluster eur is still in the host: %v", err)
		}
		// The member was not really cleaned in this staging: do it now.
		kubectl.Succeed(t, "delete", "--context", "eur", "-n", v1alpha1.Namespace, "configmap,secret,serviceaccount", "-l", v1alpha1.LabelFederation+"="+fedName)
		kubectl.Succeed(t, "delete", "--context", "eur", "clusterrolebinding,clusterrole", "-l", v1alpha1.LabelFederation+"="+fedName)
		waitMemberClean(t, testLab.Cluster("eur"))
	})

	t.Run("killed", func(t *testing.T) {
		for _, after := range []time.Duration{300 * time.Millisecond, time.Second, 2 * time.Second} {
			ensureJoined(t, "eur")
			kubectl.Succeed(t, "fed", "apply", "-f", file, "--context", hostCtx, "--federation", fedName)
			killedAfter(t, after, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur")
			if _, err := hostStore(t).Clusters.Get(t.Context(), "eur", metav1.GetOptions{}); err == nil {
				res := kubectl.Succeed(t, "fed", "unjoin", "eur", "--context", hostCtx, "--federation", fedName, "--cluster-context", "eur")
				t.Logf("killed after %s, then run again:\n%s", after, res.Stdout)
			}
			if n := recordsNaming(t, "eur"); n != 0 {
				t.Errorf("killed after %s and run again: %d records still name eur", after, n)
			}
			waitMemberClean(t, testLab.Cluster("eur"))
		}
	})
}

// distributeConfigMaps applies n ConfigMaps in a namespace of their own to
// every member, and returns the manifest's path.
func distributeConfigMaps(t *testing.T, ns string, n int) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", ns)
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%04d\n  namespace: %s\ndata:\n  i: %q\n", i, ns, fmt.Sprint(i))
	}
	file := filepath.Join(t.TempDir(), "configmaps.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl.Succeed(t, "fed", "apply", "-f", file, "--context", hostCtx, "--federation", fedName)
	return file
}

// recordsNaming counts the federation's records that name cluster.
func recordsNaming(t *testing.T, cluster string) int {
	t.Helper()
	inv, err := inventory.New(hostStore(t), fedName)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := inv.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		for _, c := range e.Record.Status.Clusters {
			if c.Name == cluster {
				n++
			}
		}
	}
	return n
}

// killedAfter runs kubectl ARGS and sends it SIGKILL after d, if it is
// still running then.
func killedAfter(t *testing.T, d time.Duration, args ...string) {
	t.Helper()
	// kubectl execs the plugin, so its process is the plugin's.
	cmd := exec.Command(kubectl.Path, append(args, "--kubeconfig", kubectl.Kubeconfig)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubectl.Kubeconfig)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(d, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
	defer timer.Stop()
	_ = cmd.Wait()
}
