//go:build e2e

package security

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

const (
	redactNamespace = "redact"
	redactSecret    = "redact-secret"
	// redactRejoined is the member that each level unjoins and joins again.
	redactRejoined = "jpn"
)

// redactRandom returns a random string of letters and digits, unlike
// anything the cluster prints.
func redactRandom(t *testing.T, n int) string {
	t.Helper()
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = alphabet[j.Int64()]
	}
	return string(b)
}

// redactWrite writes a manifest: the namespace, a Secret with password
// in stringData and apiKey in data, and a ConfigMap.
func redactWrite(t *testing.T, dir, file, password, apiKey string) string {
	t.Helper()
	doc := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: Secret
metadata:
  name: %[2]s
  namespace: %[1]s
type: Opaque
stringData:
  password: %[3]s
data:
  apikey: %[4]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: redact-config
  namespace: %[1]s
data:
  color: blue
`, redactNamespace, redactSecret, password, base64.StdEncoding.EncodeToString([]byte(apiKey)))
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// redactScratch writes a Secret of its own, for apply and delete.
func redactScratch(t *testing.T, dir, value string) string {
	t.Helper()
	doc := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: redact-scratch\n  namespace: %s\nstringData:\n  key: %s\n", redactNamespace, value)
	path := filepath.Join(dir, "scratch.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// redactRefused writes a Secret that every member refuses: a data value
// that is not base64, and a stringData key that is not a valid key, each
// with a secret value that the errors must not quote.
func redactRefused(t *testing.T, dir, value string) string {
	t.Helper()
	doc := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: redact-refused\n  namespace: %s\ndata:\n  key: '%s!!'\nstringData:\n  'not a key': %s\n", redactNamespace, value, value)
	path := filepath.Join(dir, "refused.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// redactCommand is one command of kubectl fed and the exit codes it may
// end with; none means any. before, if set, runs first.
type redactCommand struct {
	args   []string
	exits  []int
	before func(t *testing.T)
}

// redactCommands returns every command of kubectl fed, in an order that
// leaves the federation as it found it: the Secret back at its first
// value, the scratch Secret gone and the rejoined member in again.
func redactCommands(base, changed, scratch, refused string) []redactCommand {
	ok := []int{0}
	return []redactCommand{
		{args: []string{"version"}, exits: ok},
		{args: []string{"init", "magicring", "--domain", "demo.example.com"}, exits: ok},
		{args: []string{"clusters"}, exits: ok},
		{args: []string{"clusters", "-o", "yaml"}, exits: ok},
		{args: []string{"apply", "-f", base}, exits: ok},
		{args: []string{"get", "secrets,configmaps", "-n", redactNamespace}, exits: ok},
		{args: []string{"get", "secrets", "-n", redactNamespace, "-o", "yaml"}, exits: ok},
		{args: []string{"get", "secrets", "-n", v1alpha1.Namespace, "-o", "json"}, exits: ok},
		{args: []string{"get", "secret", redactSecret, "-n", redactNamespace, "-w", "-o", "yaml", "--request-timeout", "4s"}, exits: ok},
		{args: []string{"diff", "-f", changed}, exits: []int{1}},
		{args: []string{"apply", "-f", changed}, exits: ok},
		{args: []string{"diff"}, exits: ok},
		{args: []string{"apply", "-f", base}, exits: ok},
		{args: []string{"sync"}, exits: ok},
		{args: []string{"rebalance"}, exits: ok},
		{args: []string{"apply", "-f", scratch}, exits: ok},
		{args: []string{"delete", "-f", scratch}, exits: ok},
		// The inventory records the refused Secret, for sync to try
		// again: delete takes it out.
		{args: []string{"apply", "-f", refused}, exits: []int{1}},
		{args: []string{"delete", "-f", refused}, exits: ok},
		{args: []string{"rotate", "--all"}, exits: ok},
		{args: []string{"join", redactRejoined, "--cluster-context", redactRejoined, "--rotate"}, exits: ok},
		{args: []string{"unjoin", redactRejoined}, exits: ok},
		{args: []string{"join", redactRejoined, "--cluster-context", redactRejoined}, exits: ok, before: redactWaitUnjoined},
		{args: []string{"dns", "check", "--timeout", "2s"}, exits: nil},
		{args: []string{"completion", "bash"}, exits: ok},
		{args: []string{"__complete", "get", "secret", "-n", redactNamespace, ""}, exits: nil},
	}
}

// TestRedactSecretsAndTokens runs every command of kubectl fed at every
// verbosity against a federated Secret of known random values, and finds
// in no output, stdout or stderr, those values nor any member's tokens,
// raw or base64, whole or in the pieces a hex dump shows. It also checks
// that the verbosity was on (-v=10 logs the requests and says their
// bodies are hidden), that diff shows the changed key masked, and that get
// shows Secrets with their values masked.
func TestRedactSecretsAndTokens(t *testing.T) {
	dir := t.TempDir()
	password, changedPassword := redactRandom(t, 32), redactRandom(t, 32)
	apiKey, scratchValue := redactRandom(t, 32), redactRandom(t, 32)
	base := redactWrite(t, dir, "base.yaml", password, apiKey)
	changed := redactWrite(t, dir, "changed.yaml", changedPassword, apiKey)
	scratch := redactScratch(t, dir, scratchValue)
	refusedValue := redactRandom(t, 32)
	refused := redactRefused(t, dir, refusedValue)

	kubectl.Succeed(t, "fed", "apply", "-f", base, "--context", hostCtx)
	// t.Context() is over by the time these run.
	t.Cleanup(func() {
		if res, err := kubectl.Run(context.Background(), "fed", "delete", "-f", base, "--context", hostCtx); err != nil || res.ExitCode != 0 {
			t.Errorf("deleting what the test applied: %v\n%s", err, res)
		}
	})
	t.Cleanup(func() { redactRestoreMember(t) })

	needles := redactNeedles{}
	needles.add("the Secret's password", password)
	needles.add("the Secret's changed password", changedPassword)
	needles.add("the Secret's API key", apiKey)
	needles.add("the scratch Secret's value", scratchValue)
	needles.add("the refused Secret's value", refusedValue)
	redactTokens(t, needles)

	for _, level := range redactLevels {
		t.Run(fmt.Sprintf("v=%d", level), func(t *testing.T) {
			runs := map[string]framework.Result{}
			for _, c := range redactCommands(base, changed, scratch, refused) {
				if c.before != nil {
					c.before(t)
				}
				args := append([]string{"fed"}, c.args...)
				args = append(args, "--context", hostCtx, fmt.Sprintf("-v=%d", level))
				res, err := kubectl.Run(t.Context(), args...)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("kubectl %s: exit %d after %s, %d bytes out, %d bytes err",
					strings.Join(args, " "), res.ExitCode, res.Duration.Round(time.Millisecond), len(res.Stdout), len(res.Stderr))
				if c.exits != nil && !redactOneOf(res.ExitCode, c.exits) {
					t.Errorf("kubectl %s: exit %d, want %v; stderr ends:\n%s", strings.Join(args, " "), res.ExitCode, c.exits, redactTail(res.Stderr))
				}
				runs[strings.Join(c.args, " ")] = res
			}
			// rotate, join --rotate and join made new tokens: look for
			// those too.
			redactTokens(t, needles)
			for _, res := range runs {
				needles.check(t, res)
			}
			redactCheckShown(t, level, runs, changed)
		})
	}
}

// redactCheckShown checks what the outputs must show: the requests from
// -v=6 on, their bodies hidden from -v=8 on, and the Secrets with their
// keys and masked values. runs holds each command's result by its
// arguments.
func redactCheckShown(t *testing.T, level int, runs map[string]framework.Result, changed string) {
	t.Helper()
	clusters := runs["clusters"]
	requestLogged := strings.Contains(clusters.Stderr, `verb="GET"`)
	if level >= 6 && !requestLogged {
		t.Errorf("clusters -v=%d logs no request, so the verbosity was not on:\n%s", level, redactTail(clusters.Stderr))
	}
	if level < 6 && requestLogged {
		t.Errorf("clusters -v=%d logs requests:\n%s", level, redactTail(clusters.Stderr))
	}
	if level >= 8 {
		for _, want := range []string{`"Response Body"`, "not shown by kubectl fed"} {
			if !strings.Contains(clusters.Stderr, want) {
				t.Errorf("clusters -v=%d does not log %s:\n%s", level, want, redactTail(clusters.Stderr))
			}
		}
	}
	if level >= 9 && !strings.Contains(clusters.Stderr, "curl -v -X") {
		t.Errorf("clusters -v=%d logs no curl command:\n%s", level, redactTail(clusters.Stderr))
	}

	diff := runs["diff -f "+changed]
	for _, want := range []string{"password: '*** (before)'", "password: '*** (after)'"} {
		if !strings.Contains(diff.Stdout, want) {
			t.Errorf("diff -f changed.yaml does not show %q:\n%s", want, diff.Stdout)
		}
	}
	secrets := runs["get secrets -n "+redactNamespace+" -o yaml"]
	for _, want := range []string{"password: '***'", "apikey: '***'"} {
		if !strings.Contains(secrets.Stdout, want) {
			t.Errorf("get secrets -o yaml does not show %q:\n%s", want, secrets.Stdout)
		}
	}
	credentials := runs["get secrets -n "+v1alpha1.Namespace+" -o json"]
	if !strings.Contains(credentials.Stdout, `"kubeconfig": "***"`) {
		t.Errorf("get secrets -n %s -o json does not show the credential Secrets masked:\n%s", v1alpha1.Namespace, redactTail(credentials.Stdout))
	}
}

// redactRestoreMember joins the rejoined member again if the test left it
// out, so that the tests after this one find the federation whole. It runs
// as a cleanup, when t.Context() is over.
func redactRestoreMember(t *testing.T) {
	ctx := context.Background()
	name := store.CredentialSecretName(redactRejoined, v1alpha1.IdentityManager)
	_, err := testLab.Cluster(hostCtx).Client().CoreV1().Secrets(v1alpha1.Namespace).Get(ctx, name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return
	}
	if err := redactUnjoined(ctx); err != nil {
		t.Errorf("joining %s again: %v", redactRejoined, err)
		return
	}
	res, err := kubectl.Run(ctx, "fed", "join", redactRejoined, "--cluster-context", redactRejoined, "--context", hostCtx)
	if err != nil || res.ExitCode != 0 {
		t.Errorf("joining %s again: %v\n%s", redactRejoined, err, res)
	}
}

// redactWaitUnjoined waits until the rejoined member's kfed-system, which
// unjoin deletes, is gone: join refuses a namespace on its way out.
func redactWaitUnjoined(t *testing.T) {
	t.Helper()
	if err := redactUnjoined(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func redactUnjoined(ctx context.Context) error {
	kube := testLab.Cluster(redactRejoined).Client()
	return framework.Poll(ctx, 3*time.Minute, time.Second, func(ctx context.Context) error {
		_, err := kube.CoreV1().Namespaces().Get(ctx, v1alpha1.Namespace, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("namespace %s is still in %s", v1alpha1.Namespace, redactRejoined)
	})
}

func redactOneOf(code int, codes []int) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}
