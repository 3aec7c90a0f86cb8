//go:build e2e

package security

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// plantedExec rewrites the current user of a kubeconfig to authenticate by
// running a command that creates marker, as an attacker able to write a
// Secret would, and drops its token so that the command is the only way
// in that clientcmd would use.
func plantedExec(t *testing.T, data []byte, marker string) []byte {
	t.Helper()
	return plantedEdit(t, data, func(u *clientcmdapi.AuthInfo) {
		u.Token = ""
		u.Exec = &clientcmdapi.ExecConfig{
			APIVersion:      "client.authentication.k8s.io/v1",
			Command:         "/bin/sh",
			Args:            []string{"-c", "touch " + marker},
			InteractiveMode: clientcmdapi.NeverExecInteractiveMode,
		}
	})
}

func plantedEdit(t *testing.T, data []byte, edit func(*clientcmdapi.AuthInfo)) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	if kctx == nil || cfg.AuthInfos[kctx.AuthInfo] == nil {
		t.Fatal("the kubeconfig has no current context and user")
	}
	edit(cfg.AuthInfos[kctx.AuthInfo])
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// plantSecret replaces the kubeconfig in a Secret of cluster for the rest
// of the test, and puts the original back afterwards.
func plantSecret(t *testing.T, client kubernetes.Interface, namespace, name string, plant func([]byte) []byte) {
	t.Helper()
	secrets := client.CoreV1().Secrets(namespace)
	orig, err := secrets.Get(t.Context(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	planted := orig.DeepCopy()
	planted.Data[v1alpha1.SecretKeyKubeconfig] = plant(orig.Data[v1alpha1.SecretKeyKubeconfig])
	if _, err := secrets.Update(t.Context(), planted, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cur, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("putting back %s/%s: %v", namespace, name, err)
			return
		}
		cur.Data = orig.Data
		if _, err := secrets.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			t.Errorf("putting back %s/%s: %v", namespace, name, err)
		}
	})
}

func assertNotRun(t *testing.T, marker string) {
	t.Helper()
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the planted command ran: %s exists", marker)
	}
}

// TestPlantedManagerKubeconfig plants an exec entry, then a tokenFile, in
// the host Secret holding eur's manager kubeconfig: every command that
// reaches eur refuses it, naming the Secret and the field, and the command
// never runs.
func TestPlantedManagerKubeconfig(t *testing.T) {
	host := kubernetes.NewForConfigOrDie(testLab.Cluster(hostCtx).RESTConfig())
	secret := store.CredentialSecretName("eur", v1alpha1.IdentityManager)
	where := v1alpha1.Namespace + "/" + secret
	marker := filepath.Join(t.TempDir(), "ran")

	t.Run("exec", func(t *testing.T) {
		plantSecret(t, host, v1alpha1.Namespace, secret, func(b []byte) []byte { return plantedExec(t, b, marker) })
		for _, args := range [][]string{
			{"fed", "clusters", "eur", "-o", "yaml", "--context", hostCtx},
			{"fed", "get", "configmaps", "-n", "default", "--context", hostCtx},
		} {
			res, err := kubectl.Run(t.Context(), args...)
			if err != nil {
				t.Fatal(err)
			}
			out := res.Stdout + res.Stderr
			if !strings.Contains(out, where) || !strings.Contains(out, "sets exec") {
				t.Errorf("%s does not name the Secret %s and its exec field:\n%s", strings.Join(args, " "), where, res)
			}
		}
		assertNotRun(t, marker)
	})

	t.Run("tokenFile", func(t *testing.T) {
		tokenFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte("not-a-token"), 0o600); err != nil {
			t.Fatal(err)
		}
		plantSecret(t, host, v1alpha1.Namespace, secret, func(b []byte) []byte {
			return plantedEdit(t, b, func(u *clientcmdapi.AuthInfo) { u.Token, u.TokenFile = "", tokenFile })
		})
		res, err := kubectl.Run(t.Context(), "fed", "get", "configmaps", "-n", "default", "--context", hostCtx)
		if err != nil {
			t.Fatal(err)
		}
		if out := res.Stdout + res.Stderr; !strings.Contains(out, where) || !strings.Contains(out, "sets tokenFile") {
			t.Errorf("get does not name the Secret %s and its tokenFile field:\n%s", where, res)
		}
	})
}

// TestPlantedDNSReaderKubeconfig plants an exec entry in the DNS reader's
// credential Secret of eur in the host's kfed-dns: coredns-fed, watching
// the host, refuses it and names it in its log, and the command never
// runs.
func TestPlantedDNSReaderKubeconfig(t *testing.T) {
	host := kubernetes.NewForConfigOrDie(testLab.Cluster(hostCtx).RESTConfig())
	secret := store.CredentialSecretName("eur", v1alpha1.IdentityDNSReader)
	marker := filepath.Join(t.TempDir(), "ran")
	plantSecret(t, host, v1alpha1.DNSNamespace, secret, func(b []byte) []byte { return plantedExec(t, b, marker) })

	dir := t.TempDir()
	server, err := framework.FedServer{
		Zone: "demo.example.com", Federation: "magicring", Kubeconfig: testLab.Kubeconfig, Context: hostCtx,
	}.Start(dir, "planted")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	logPath := filepath.Join(dir, "coredns-fed.planted.log")
	want := v1alpha1.DNSNamespace + "/" + secret
	err = framework.WaitUntil(t.Context(), time.Minute, func() bool {
		log, _ := os.ReadFile(logPath)
		return strings.Contains(string(log), want) && strings.Contains(string(log), "sets exec")
	})
	if err != nil {
		log, _ := os.ReadFile(logPath)
		t.Fatalf("coredns-fed does not name the planted Secret %s and its exec field: %v\n%s", want, err, log)
	}
	assertNotRun(t, marker)
}

// TestPlantedHostKubeconfig plants an exec entry in the Secret through
// which a member's coredns-fed reaches the host (kfed-dns/coredns-fed-host,
// mounted into its pod as a file): coredns-fed refuses to start, naming
// the field, and the command never runs.
func TestPlantedHostKubeconfig(t *testing.T) {
	member := kubernetes.NewForConfigOrDie(testLab.Cluster("jpn").RESTConfig())
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSNamespace}}
	if _, err := member.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	hostKubeconfig, err := os.ReadFile(filepath.Join(testLab.Cluster(hostCtx).Dir, "kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns-fed-host-planted", Namespace: v1alpha1.DNSNamespace},
		Type:       v1alpha1.SecretTypeKubeconfig,
		Data:       map[string][]byte{v1alpha1.SecretKeyKubeconfig: plantedExec(t, hostKubeconfig, marker)},
	}
	secrets := member.CoreV1().Secrets(v1alpha1.DNSNamespace)
	if _, err := secrets.Create(t.Context(), secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secrets.Delete(context.Background(), secret.Name, metav1.DeleteOptions{}) })

	// What the kubelet would mount: the Secret's key, read back from the
	// member, as a file.
	got, err := secrets.Get(t.Context(), secret.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mounted := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(mounted, got.Data[v1alpha1.SecretKeyKubeconfig], 0o600); err != nil {
		t.Fatal(err)
	}
	server, err := framework.FedServer{
		Zone: "demo.example.com", Federation: "magicring", Kubeconfig: mounted,
	}.Start(dir, "host")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(server.Stop)
	select {
	case <-server.Done():
	case <-time.After(time.Minute):
		t.Fatal("coredns-fed started with a planted host kubeconfig")
	}
	log, _ := os.ReadFile(filepath.Join(dir, "coredns-fed.host.log"))
	if !strings.Contains(string(log), mounted) || !strings.Contains(string(log), "sets exec") {
		t.Errorf("coredns-fed's error does not name the kubeconfig %s and its exec field:\n%s", mounted, log)
	}
	assertNotRun(t, marker)
}
