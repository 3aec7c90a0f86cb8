//go:build e2e

package security

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/deploy"
	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// redactDNSHostSecret is the Secret in which dns install --all-clusters
// gives each member's coredns-fed a token of the host.
const redactDNSHostSecret = "coredns-fed-host"

// TestRedactDNSInstall runs dns install --all-clusters, which mints a host
// token for every member and writes it there, and dns check, at every
// verbosity, and finds in no output the host tokens it wrote nor any
// member's own tokens. It takes coredns-fed out of every cluster again
// when it ends.
func TestRedactDNSInstall(t *testing.T) {
	for _, c := range testLab.Clusters {
		_, err := c.Client().AppsV1().Deployments(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
		if err == nil {
			t.Fatalf("coredns-fed is installed in %s already; this test installs and removes it, and would remove another test's", c.Name)
		}
	}
	t.Cleanup(func() { redactUninstallDNS(t) })

	needles := redactNeedles{}
	redactTokens(t, needles)
	for _, level := range redactLevels {
		t.Run(fmt.Sprintf("v=%d", level), func(t *testing.T) {
			v := fmt.Sprintf("-v=%d", level)
			install, err := kubectl.Run(t.Context(), "fed", "dns", "install", "--all-clusters", "--timeout", "2m", "--context", hostCtx, v)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("dns install %s: exit %d after %s, %d bytes out, %d bytes err", v, install.ExitCode, install.Duration.Round(time.Millisecond), len(install.Stdout), len(install.Stderr))
			if install.ExitCode != 0 {
				t.Fatalf("dns install %s failed:\n%s", v, redactTail(install.Stderr))
			}
			check, err := kubectl.Run(t.Context(), "fed", "dns", "check", "--timeout", "2s", "--context", hostCtx, v)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("dns check %s: exit %d after %s", v, check.ExitCode, check.Duration.Round(time.Millisecond))

			if n := redactHostTokens(t, needles); n == 0 {
				t.Fatalf("no member holds Secret %s/%s after dns install --all-clusters", v1alpha1.Namespace, redactDNSHostSecret)
			}
			redactTokens(t, needles)
			needles.check(t, install)
			needles.check(t, check)
			if level >= 8 && !strings.Contains(install.Stderr, "not shown by kubectl fed") {
				t.Errorf("dns install %s logs no hidden body, so the verbosity was not on:\n%s", v, redactTail(install.Stderr))
			}
		})
	}
}

// redactHostTokens records the host token in each member's
// coredns-fed-host Secret and returns how many members hold one.
func redactHostTokens(t *testing.T, n redactNeedles) int {
	t.Helper()
	found := 0
	for _, c := range testLab.Clusters {
		secret, err := c.Client().CoreV1().Secrets(v1alpha1.Namespace).Get(t.Context(), redactDNSHostSecret, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.Load(secret.Data[v1alpha1.SecretKeyKubeconfig])
		if err != nil {
			t.Fatalf("Secret %s/%s in %s: %v", v1alpha1.Namespace, redactDNSHostSecret, c.Name, err)
		}
		for name, user := range cfg.AuthInfos {
			if user.Token == "" {
				t.Fatalf("Secret %s/%s in %s: user %s has no token", v1alpha1.Namespace, redactDNSHostSecret, c.Name, name)
			}
			parts := strings.Split(user.Token, ".")
			n.add("the host token of "+c.Name+"'s coredns-fed", parts[len(parts)-1])
		}
		found++
	}
	return found
}

// redactUninstallDNS deletes from every cluster what dns install made:
// the objects of the coredns-fed base, and the Secrets labelled as
// coredns-fed's (the host kubeconfig in members, the token anchors in the
// host). It runs as a cleanup, when t.Context() is over.
func redactUninstallDNS(t *testing.T) {
	ctx := context.Background()
	base, err := deploy.CoreDNSFed()
	if err != nil {
		t.Error(err)
		return
	}
	for _, c := range testLab.Clusters {
		groups, err := restmapper.GetAPIGroupResources(c.Client().Discovery())
		if err != nil {
			t.Errorf("uninstalling coredns-fed from %s: %v", c.Name, err)
			continue
		}
		mapper := restmapper.NewDiscoveryRESTMapper(groups)
		dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
		for _, obj := range base {
			gvk := obj.GroupVersionKind()
			m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				t.Errorf("uninstalling coredns-fed from %s: %v", c.Name, err)
				continue
			}
			err = dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %s %s/%s from %s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), c.Name, err)
			}
		}
		err = c.Client().CoreV1().Secrets(v1alpha1.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=coredns-fed"})
		if err != nil {
			t.Errorf("deleting coredns-fed's Secrets from %s: %v", c.Name, err)
		}
	}
	err = framework.Poll(ctx, time.Minute, time.Second, func(ctx context.Context) error {
		for _, c := range testLab.Clusters {
			pods, err := c.Client().CoreV1().Pods(v1alpha1.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=coredns-fed"})
			if err != nil {
				return err
			}
			if len(pods.Items) > 0 {
				return fmt.Errorf("%d coredns-fed pods left in %s", len(pods.Items), c.Name)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("uninstalling coredns-fed: %v", err)
	}
}
