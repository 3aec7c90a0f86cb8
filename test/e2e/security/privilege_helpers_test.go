//go:build e2e

package security

// The privilege tests' helpers: what an identity may do, asked of the
// member with the real `kubectl auth can-i`, and putting a member's grant
// back.

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// privCan reports whether user may do verb on resource (with any further
// can-i arguments, such as -n or --all-namespaces) in cluster, by the exit
// status of kubectl auth can-i: 0 yes, 1 no.
func privCan(t *testing.T, cluster, user, verb, resource string, more ...string) bool {
	t.Helper()
	args := append([]string{"auth", "can-i", verb, resource, "--as", user, "--context", cluster}, more...)
	res, err := kubectl.Run(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	switch res.ExitCode {
	case 0:
		return true
	case 1:
		return false
	}
	t.Fatalf("kubectl auth can-i failed:\n%s", res)
	return false
}

// privExpect checks a table of can-i questions: each "verb resource [flags]"
// with the answer wanted.
func privExpect(t *testing.T, cluster, user string, want map[string]bool) {
	t.Helper()
	for q, allowed := range want {
		f := strings.Fields(q)
		if got := privCan(t, cluster, user, f[0], f[1], f[2:]...); got != allowed {
			t.Errorf("%s: can %s %s? %v, want %v", cluster, user, q, got, allowed)
		}
	}
}

// privList returns what `kubectl auth can-i --list` grants user in
// namespace ns of cluster, as resource -> verbs, for resources only; a
// grant limited to names reads "[names] [verbs]".
func privList(t *testing.T, cluster, user, ns string) map[string]string {
	t.Helper()
	res := kubectl.Succeed(t, "auth", "can-i", "--list", "--as", user, "-n", ns, "--context", cluster)
	out := map[string]string{}
	for _, line := range strings.Split(res.Stdout, "\n")[1:] {
		// Columns: Resources, Non-Resource URLs, Resource Names, Verbs; a
		// line of a non-resource URL has no resource.
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(line, " ") || !strings.Contains(line, "[") {
			continue
		}
		at := strings.LastIndex(line, "[")
		verbs := strings.TrimSpace(line[at:])
		// The column before the verbs: the names the grant is limited to.
		if before := strings.Fields(line[:at]); len(before) > 0 {
			if names := before[len(before)-1]; names != "[]" && strings.HasPrefix(names, "[") {
				verbs = names + " " + verbs
			}
		}
		if prev, ok := out[f[0]]; ok {
			verbs = prev + verbs
		}
		out[f[0]] = verbs
	}
	return out
}

// privSame reports whether two string maps are equal.
func privSame(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// privRestore joins a member again with the default grant, as the other
// tests expect it; it runs in a cleanup, after the test's context ended.
func privRestore(t *testing.T, m string) {
	res, err := kubectl.Run(context.Background(), "fed", "join", m, "--context", hostCtx, "--cluster-context", m, "--manager-cluster-role", membership.ManagerClusterRole)
	if err != nil || res.ExitCode != 0 {
		t.Errorf("restoring %s to the default grant: %v\n%s", m, err, res)
	}
}

// privRejoin joins a member again with the flags given.
func privRejoin(t *testing.T, m string, flags ...string) framework.Result {
	t.Helper()
	return kubectl.Succeed(t, append([]string{"fed", "join", m, "--context", hostCtx, "--cluster-context", m}, flags...)...)
}

// privScoped creates namespace ns in member m and joins m again with a
// manager that may write ns alone; when the test ends, m is joined with the
// default grant again and ns is deleted.
func privScoped(t *testing.T, m, ns string) framework.Result {
	t.Helper()
	kubectl.Succeed(t, "create", "namespace", ns, "--context", m)
	t.Cleanup(func() {
		_, _ = kubectl.Run(context.Background(), "delete", "namespace", ns, "--context", m, "--wait=false")
	})
	t.Cleanup(func() { privRestore(t, m) })
	return privRejoin(t, m, "--manager-namespaces", ns)
}

// privDNSObjects lists what dns install writes, with resource versions:
// the host's Secrets for the members' tokens, and in every member the
// coredns-fed Deployment and host kubeconfig.
func privDNSObjects(t *testing.T) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	note := func(what string, meta metav1.Object, err error) {
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			t.Fatalf("reading %s: %v", what, err)
		default:
			out = append(out, what+"@"+meta.GetResourceVersion())
		}
	}
	// The host's tokens for the members, whatever their kind, carry the
	// labels of what install creates.
	host := testLab.Cluster(hostCtx).Client()
	tokens, err := host.CoreV1().Secrets(v1alpha1.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=coredns-fed"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tokens.Items {
		note("host secret "+tokens.Items[i].Name, &tokens.Items[i], nil)
	}
	for _, m := range members {
		c := testLab.Cluster(m).Client()
		s, err := c.CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, "coredns-fed-host", metav1.GetOptions{})
		note(m+" secret coredns-fed-host", s, err)
		d, err := c.AppsV1().Deployments(v1alpha1.Namespace).Get(ctx, "coredns-fed", metav1.GetOptions{})
		note(m+" deployment coredns-fed", d, err)
	}
	return out
}
