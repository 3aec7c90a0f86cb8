//go:build e2e

package security

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// What the redact tests share: the verbosities they run at, and the
// needles, secret values and members' tokens, that no output may hold.

// redactLevels are the verbosities every command runs at: quiet, one line
// per request (6), bodies cut at 1 KiB and 10 KiB (8, 9, with curl
// commands at 9) and bodies in full (10).
var redactLevels = []int{0, 6, 8, 9, 10}

// redactChunk is the length of the pieces of a secret looked for: a hex
// dump shows 16 characters a line, and any 16 characters in a row
// hold one whole piece of 8 that starts at a multiple of 8.
const redactChunk = 8

// redactNeedles maps each string no output may hold to what it gives away.
type redactNeedles map[string]string

// add records a secret and its base64 forms, in pieces: the pieces of the
// secret itself, which a hex dump shows, and of its base64 encoding as it
// appears inside a longer value at each of the three alignments, less its
// last quantum, which depends on what follows.
func (n redactNeedles) add(what, secret string) {
	n.addPieces(what, secret)
	for i := 0; i < 3 && i < len(secret); i++ {
		b := base64.StdEncoding.EncodeToString([]byte(secret[i:]))
		n.addPieces(what+", base64", b[:len(b)-4])
	}
}

func (n redactNeedles) addPieces(what, s string) {
	n[s] = what
	for i := 0; i+redactChunk <= len(s); i += redactChunk {
		n[s[i:i+redactChunk]] = fmt.Sprintf("%s (characters %d-%d)", what, i, i+redactChunk)
	}
}

// check fails t for every needle in the command's output, quoting the
// line it is on with the needle itself replaced.
func (n redactNeedles) check(t *testing.T, res framework.Result) {
	t.Helper()
	for stream, out := range map[string]string{"stdout": res.Stdout, "stderr": res.Stderr} {
		for needle, what := range n {
			i := strings.Index(out, needle)
			if i < 0 {
				continue
			}
			start := strings.LastIndexByte(out[:i], '\n') + 1
			end := min(len(out), i+200)
			if j := strings.IndexByte(out[i:], '\n'); j >= 0 && i+j < end {
				end = i + j
			}
			line := strings.ReplaceAll(out[max(start, i-200):end], needle, "<"+what+">")
			t.Errorf("kubectl %s: %s shows %s:\n%s", strings.Join(res.Args, " "), stream, what, line)
		}
	}
}

// redactTokens records the bearer token of every member's manager and DNS
// reader, read from the host's credential Secrets as coredns-fed and the
// plugin read them. Only the signature makes a token usable, and the
// other parts are the same for every token of a cluster, so only it is
// looked for.
func redactTokens(t *testing.T, n redactNeedles) {
	t.Helper()
	host := testLab.Cluster(hostCtx).Client()
	for _, m := range members {
		for _, id := range []string{v1alpha1.IdentityManager, v1alpha1.IdentityDNSReader} {
			ns := v1alpha1.Namespace
			if id == v1alpha1.IdentityDNSReader {
				ns = v1alpha1.DNSNamespace
			}
			name := store.CredentialSecretName(m, id)
			secret, err := host.CoreV1().Secrets(ns).Get(t.Context(), name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("reading the %s credential of %s: %v", id, m, err)
			}
			cfg, err := clientcmd.Load(secret.Data[v1alpha1.SecretKeyKubeconfig])
			if err != nil {
				t.Fatalf("Secret %s/%s: %v", ns, name, err)
			}
			kctx := cfg.Contexts[cfg.CurrentContext]
			if kctx == nil || cfg.AuthInfos[kctx.AuthInfo] == nil || cfg.AuthInfos[kctx.AuthInfo].Token == "" {
				t.Fatalf("Secret %s/%s holds no token", ns, name)
			}
			token := cfg.AuthInfos[kctx.AuthInfo].Token
			parts := strings.Split(token, ".")
			n.add(fmt.Sprintf("the %s token of %s", id, m), parts[len(parts)-1])
		}
	}
}

// redactTail returns the end of a long output, for failure messages.
func redactTail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}
