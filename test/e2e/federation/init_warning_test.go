//go:build e2e

package federation

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
)

// TestInitWarnsOnMemberOfAnotherFederation makes jpn, a member of
// magicring hosted by usa, the host of a federation of its own: init
// warns, naming the federation it is a member of and how to leave it,
// while a host that is a member of its own federation gets no warning.
func TestInitWarnsOnMemberOfAnotherFederation(t *testing.T) {
	ensureJoined(t, "jpn", hostCtx)
	jpn := testLab.Cluster("jpn")
	// A defer, not a Cleanup: waitMemberClean needs the test's context.
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if s, err := store.New(jpn.RESTConfig()); err == nil {
			_ = s.Federations.Delete(ctx, "third", metav1.DeleteOptions{})
		}
		// init took jpn's kfed-system over as a host's, so unjoin leaves
		// it: remove it by hand, as an operator undoing the init would.
		res, err := kubectl.Run(ctx, "fed", "unjoin", "jpn", "--context", hostCtx, "--federation", fedName, "--cluster-context", "jpn")
		if err != nil || res.ExitCode != 0 {
			t.Errorf("unjoining jpn: %v\n%s", err, res)
		}
		for _, ns := range []string{v1alpha1.Namespace, v1alpha1.DNSNamespace} {
			_ = jpn.Client().CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		}
		waitMemberClean(t, jpn)
	}()

	res := kubectl.Succeed(t, "fed", "init", "third", "--context", "jpn", "--domain", "third.example.com")
	for _, want := range []string{`member of federation "magicring"`, `as "jpn"`, "kubectl fed unjoin jpn --federation magicring"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("init's warning does not say %q:\n%s", want, res)
		}
	}

	// usa hosts magicring and is a member of it: nothing to warn about.
	res = kubectl.Succeed(t, "fed", "init", fedName, "--context", hostCtx, "--domain", domain)
	if strings.Contains(res.Stderr, "Warning") {
		t.Errorf("init warns on a host that is a member of its own federation:\n%s", res)
	}
}
