//go:build e2e

package federation

// The federation tests' helpers: what a joined member must hold, a join
// raced against a stopping API server, members that never answer, and
// reading `clusters` tables.

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/pkg/membership"
	"github.com/kfed-dev/kfed/pkg/store"
	"github.com/kfed-dev/kfed/test/e2e/framework"
	"github.com/kfed-dev/kfed/test/lab"
)

// checkJoined checks both sides of a member as join leaves them.
func checkJoined(t *testing.T, name string) {
	lc := testLab.Cluster(name)
	member := lc.Client()
	ctx := t.Context()
	fedLabels := map[string]string{v1alpha1.LabelFederation: fedName, v1alpha1.LabelManagedBy: v1alpha1.ManagedBy}
	hasLabels := func(what string, m metav1.Object) {
		t.Helper()
		for k, v := range fedLabels {
			if m.GetLabels()[k] != v {
				t.Errorf("%s in %s: label %s=%q, want %q", what, name, k, m.GetLabels()[k], v)
			}
		}
	}

	// In the member.
	for _, sa := range []string{membership.ManagerServiceAccount, membership.DNSReaderServiceAccount} {
		obj, err := member.CoreV1().ServiceAccounts(v1alpha1.Namespace).Get(ctx, sa, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("serviceaccount %s in %s: %v", sa, name, err)
		}
		hasLabels("serviceaccount/"+sa, obj)
	}
	manager, err := member.RbacV1().ClusterRoleBindings().Get(ctx, membership.ManagerClusterRoleBinding, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hasLabels("clusterrolebinding/"+manager.Name, manager)
	if manager.RoleRef.Name != membership.ManagerClusterRole || manager.Subjects[0].Name != membership.ManagerServiceAccount {
		t.Errorf("manager binding %s -> %+v, want %s for %s", manager.RoleRef.Name, manager.Subjects, membership.ManagerClusterRole, membership.ManagerServiceAccount)
	}
	role, err := member.RbacV1().ClusterRoles().Get(ctx, membership.DNSReaderClusterRole, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hasLabels("clusterrole/"+role.Name, role)
	wantRules := map[string]bool{"/services": true, "discovery.k8s.io/endpointslices": true}
	for _, r := range role.Rules {
		if strings.Join(r.Verbs, ",") != "list,watch" {
			t.Errorf("DNS reader role grants %v", r.Verbs)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				if !wantRules[g+"/"+res] {
					t.Errorf("DNS reader role grants %s/%s", g, res)
				}
				delete(wantRules, g+"/"+res)
			}
		}
	}
	if len(wantRules) > 0 {
		t.Errorf("DNS reader role misses %v", wantRules)
	}
	tokens := tokenSecrets(t, member)
	if len(tokens) != 2 {
		t.Errorf("%s has %d token anchors for kfed's identities, want 2", name, len(tokens))
	}
	for _, s := range tokens {
		hasLabels("secret/"+s.Name, &s)
		if len(s.Data) != 0 {
			t.Errorf("token anchor %s in %s holds data; an anchor holds nothing", s.Name, name)
		}
	}

	// In the host.
	s := hostStore(t)
	c, err := s.Clusters.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Federation != fedName || c.Spec.Region != lc.Region || c.Spec.Zone != lc.Zone || c.Spec.Server != lc.Server {
		t.Errorf("cluster.kfed.dev/%s spec = %+v", name, c.Spec)
	}
	if c.Spec.Location == nil {
		t.Errorf("cluster.kfed.dev/%s has no location for region %s", name, lc.Region)
	}
	if !c.IsReady() {
		t.Errorf("cluster.kfed.dev/%s is not Ready: %+v", name, c.Ready())
	}
	for _, id := range membership.Identities() {
		secret, err := s.Kube.CoreV1().Secrets(s.CredentialNamespace(id)).Get(ctx, store.CredentialSecretName(name, id), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The Cluster owns the manager's Secret, beside it in kfed-system.
		// The DNS reader's is in kfed-dns, where an owner in kfed-system
		// would count as absent and get it garbage-collected.
		owned := len(secret.OwnerReferences) == 1 && secret.OwnerReferences[0].UID == c.UID
		if id == v1alpha1.IdentityManager && !owned {
			t.Errorf("secret %s/%s is owned by %+v, want cluster.kfed.dev/%s", secret.Namespace, secret.Name, secret.OwnerReferences, name)
		}
		if id == v1alpha1.IdentityDNSReader && len(secret.OwnerReferences) > 0 {
			t.Errorf("secret %s/%s has owners %+v, want none", secret.Namespace, secret.Name, secret.OwnerReferences)
		}
		cfg, err := clientcmd.Load(secret.Data[v1alpha1.SecretKeyKubeconfig])
		if err != nil {
			t.Fatalf("secret %s does not hold a kubeconfig: %v", secret.Name, err)
		}
		kc := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
		user := cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo]
		if kc.Server != lc.Server || string(kc.CertificateAuthorityData) != string(lc.CAData) || kc.InsecureSkipTLSVerify || user.Token == "" {
			t.Errorf("secret %s: server %s, CA given %v, insecure %v, token given %v; want %s with the lab's CA and a token",
				secret.Name, kc.Server, len(kc.CertificateAuthorityData) > 0, kc.InsecureSkipTLSVerify, user.Token != "", lc.Server)
		}
	}
}

// joinWhileStopping runs a join of a member and stops the member's API
// server as soon as the join has created the namespace there, then starts it
// again two seconds later. raced is true if the join finished first.
func joinWhileStopping(t *testing.T, c *lab.Cluster) (res framework.Result, raced bool) {
	t.Helper()
	ctx := t.Context()
	w, err := c.Client().CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + v1alpha1.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	done := kubectl.Start(ctx, "fed", "join", c.Name, "--context", hostCtx, "--federation", fedName, "--cluster-context", c.Name)
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added {
			t.Fatalf("watching for join's namespace: got a %s event", ev.Type)
		}
	case res := <-done:
		t.Logf("%s", res)
		if res.ExitCode != 0 {
			t.Fatalf("join failed before it wrote anything in the member")
		}
		return res, true
	case <-time.After(time.Minute):
		t.Fatal("join did not create its namespace in the member within a minute")
	}
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped the API server of %s", c.Name)
	time.Sleep(2 * time.Second)
	startAPIServer(t, c)
	t.Logf("started the API server of %s again", c.Name)
	res = <-done
	t.Logf("%s", res)
	return res, res.ExitCode == 0
}

// addMuteMember adds to the host a member whose credentials point at addr.
func addMuteMember(t *testing.T, name, server string) {
	t.Helper()
	s := hostStore(t)
	ctx := t.Context()
	for _, id := range membership.Identities() {
		secret, err := s.CredentialSecret(fedName, name, id, "none", store.Credential{Server: server, CAData: testLab.Cluster("usa").CAData, Token: "not-a-token"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Kube.CoreV1().Secrets(secret.Namespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Clusters.Create(ctx, &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: v1alpha1.Namespace},
		Spec: v1alpha1.ClusterSpec{
			Federation: fedName, Server: server, ClusterID: "mute", Region: "mute-1", Zone: "mute-1a",
			Credentials: v1alpha1.ClusterCredentials{
				Manager:   v1alpha1.SecretReference{Name: store.CredentialSecretName(name, v1alpha1.IdentityManager)},
				DNSReader: v1alpha1.SecretReference{Name: store.CredentialSecretName(name, v1alpha1.IdentityDNSReader)},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteMuteMember(t, name) })
}

func deleteMuteMember(t *testing.T, name string) {
	s := hostStore(t)
	ctx := context.Background()
	_ = s.Clusters.Delete(ctx, name, metav1.DeleteOptions{})
	for _, id := range membership.Identities() {
		_ = s.Kube.CoreV1().Secrets(s.CredentialNamespace(id)).Delete(ctx, store.CredentialSecretName(name, id), metav1.DeleteOptions{})
	}
}

// tableRows splits a printed table into rows of cells. Cells hold no spaces
// in these tables, except the READY cell's reason, which is split off.
func tableRows(t testing.TB, out string) [][]string {
	t.Helper()
	var rows [][]string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	if len(rows) == 0 {
		t.Fatalf("no table in %q", out)
	}
	return rows
}
