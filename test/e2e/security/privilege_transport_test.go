//go:build e2e

package security

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// What kfed refuses to send credentials over: plain http, or a connection
// that skips TLS verification. These tests were privilege_test.go's, and
// still run after its others.

// TestPrivDNSInstallRefusesPlainHTTP runs dns install for every member
// with a plain-http host server: it fails, says why and what to do, and
// writes nothing in the host or the members.
func TestPrivDNSInstallRefusesPlainHTTP(t *testing.T) {
	before := privDNSObjects(t)
	res := kubectl.Fail(t, "fed", "dns", "install", "--context", hostCtx, "--all-clusters", "--host-server", "http://127.0.0.1:1")
	for _, want := range []string{"travel in clear", "--insecure-host", "https://"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, res.Stderr)
		}
	}
	if after := privDNSObjects(t); !slices.Equal(before, after) {
		t.Errorf("a refused install changed what is installed: before %v, after %v", before, after)
	}
}

// TestPrivJoinRefusesInsecureMember joins eur through contexts that skip
// TLS verification or speak plain http: both are refused before anything
// is written, saying why.
func TestPrivJoinRefusesInsecureMember(t *testing.T) {
	raw, err := clientcmd.LoadFromFile(testLab.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	eur := raw.Contexts["eur"]
	skip := raw.Clusters[eur.Cluster].DeepCopy()
	skip.InsecureSkipTLSVerify, skip.CertificateAuthorityData, skip.CertificateAuthority = true, nil, ""
	plain := skip.DeepCopy()
	plain.InsecureSkipTLSVerify, plain.Server = false, "http://127.0.0.1:1"
	raw.Clusters["eur-skip"], raw.Clusters["eur-plain"] = skip, plain
	for _, name := range []string{"eur-skip", "eur-plain"} {
		ctx := eur.DeepCopy()
		ctx.Cluster = name
		raw.Contexts[name] = ctx
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*raw, path); err != nil {
		t.Fatal(err)
	}
	crb, err := testLab.Cluster("eur").Client().RbacV1().ClusterRoleBindings().Get(t.Context(), membership.ManagerClusterRoleBinding, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crafted, err := framework.NewKubectl(path)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"eur-skip": "insecure-skip-tls-verify", "eur-plain": "travel in clear"} {
		res, err := crafted.Run(t.Context(), "fed", "join", "eur", "--context", hostCtx, "--cluster-context", name)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode == 0 || !strings.Contains(res.Stderr, want) {
			t.Errorf("join through %s: exit %d, want a refusal saying %q:\n%s", name, res.ExitCode, want, res.Stderr)
		}
	}
	after, err := testLab.Cluster("eur").Client().RbacV1().ClusterRoleBindings().Get(t.Context(), membership.ManagerClusterRoleBinding, metav1.GetOptions{})
	if err != nil || after.ResourceVersion != crb.ResourceVersion {
		t.Errorf("a refused join changed the member's binding: %v", err)
	}
}
