//go:build e2e

package delegation_test

// The file's name puts its test before install_test.go's, whose last test
// unjoins jpn.

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfed-dev/kfed/pkg/apis/kfed/v1alpha1"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

const (
	// queryRate is the load the nameservers get throughout the drill, all
	// three together.
	queryRate = 100
	// drillTTL is the answers' TTL the drill's edit of the Corefile sets.
	drillTTL = 3
	// reloadBudget bounds how long a change of the ConfigMap takes to reach
	// every pod: the lab's kubelets sync a ConfigMap volume every 10 s (and
	// read the ConfigMap through a cache of about as long), and CoreDNS's
	// reload checks the file every 30 s, plus up to 15 s of jitter.
	reloadBudget = 90 * time.Second
)

// ttlOption matches the ttl option of a Corefile's fed block.
var ttlOption = regexp.MustCompile(`(?m)^([ \t]*ttl) \d+$`)

// TestReloadWithoutServFail is done-when 5's drill of a Corefile change:
// the coredns-fed pods of every cluster, under a steady load of UDP and TCP
// queries at their load-balancer addresses, answer every one, with no
// SERVFAIL and no timeout, while a change of the ConfigMap coredns-fed
// reaches them through the kubelet and CoreDNS's reload picks it up. There
// are two changes, as users make them: `kubectl patch` of the fed block's
// ttl, and a re-run of `kubectl fed dns install`, which writes the
// Corefile back. Each is seen by every pod, asked at its own address, and
// no pod restarts for it: reload applied it.
func TestReloadWithoutServFail(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	logServersOnFailure(t)
	before := corednsPods(t)
	reloadsBefore := reloadsLogged(t, before)

	var nameservers []string
	for _, c := range testLab.Clusters {
		nameservers = append(nameservers, dnsAddr(in.server[c.Name]))
	}
	all := addrsOf(in.app, members...)
	l := startLoad(nameservers, all, []uint32{ttl, drillTTL}, queryRate)
	defer l.stop()
	begin := time.Now()

	// A user's edit, in every cluster.
	changed := time.Now()
	for _, c := range testLab.Clusters {
		cm, err := c.Client().CoreV1().ConfigMaps(v1alpha1.Namespace).Get(t.Context(), "coredns-fed", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		corefile := cm.Data["Corefile"]
		if n := len(ttlOption.FindAllString(corefile, -1)); n != 1 {
			t.Fatalf("the Corefile of %s has %d ttl options, want 1; has install's Corefile changed?\n%s", c.Name, n, corefile)
		}
		patch, err := json.Marshal(map[string]any{"data": map[string]string{
			"Corefile": ttlOption.ReplaceAllString(corefile, fmt.Sprintf("${1} %d", drillTTL)),
		}})
		if err != nil {
			t.Fatal(err)
		}
		kubectl.Succeed(t, "patch", "configmap", "coredns-fed", "-n", v1alpha1.Namespace, "--context", c.Name, "--type", "merge", "-p", string(patch))
	}
	waitForTTL(t, "kubectl patch of the ttl", all, before, nameservers, drillTTL, changed)

	// install again, with the TTL it set: it writes its Corefile back.
	changed = time.Now()
	res := kubectl.Succeed(t, "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", fmt.Sprint(ttl), "--timeout", "2m")
	t.Logf("install ran again in %s", res.Duration.Round(time.Millisecond))
	waitForTTL(t, "the re-run of install", all, before, nameservers, ttl, changed)

	l.stop()
	t.Logf("%s, at %d/s over %s to the load-balancer addresses", l, queryRate, time.Since(begin).Round(time.Second))
	if l.lost() > 0 {
		t.Errorf("%d of %d queries lost or answered wrong during the drill; the first: %s", l.lost(), l.sent.Load(), *l.firstProblem.Load())
	}

	// Reload applied both changes: the same pods, none restarted, each
	// logged two more reloads.
	after := corednsPods(t)
	reloadsAfter := reloadsLogged(t, after)
	for _, s := range before {
		i := slices.IndexFunc(after, func(a server) bool { return a.pod.UID == s.pod.UID })
		switch {
		case i < 0:
			t.Errorf("the pod %s of %s is gone after the drill: the change was rolled out, not reloaded", s.pod.Name, s.cluster)
		case restarts(after[i]) != restarts(s):
			t.Errorf("the pod %s of %s restarted during the drill", s.pod.Name, s.cluster)
		case reloadsAfter[s.pod.Name]-reloadsBefore[s.pod.Name] != 2:
			t.Errorf("the pod %s of %s logged %d reloads during the drill, want 2", s.pod.Name, s.cluster, reloadsAfter[s.pod.Name]-reloadsBefore[s.pod.Name])
		}
	}
}

// waitForTTL waits until every pod, asked at its own address, and every
// nameserver, asked ten times in a row over UDP and TCP, answers the app's
// name with the TTL want, and logs how long after changed each pod first
// did. Every answer on the way must hold all, the app's addresses.
func waitForTTL(t *testing.T, what string, all []string, pods []server, nameservers []string, want uint32, changed time.Time) {
	t.Helper()
	// ttlOf asks server over proto for the app's name and returns the
	// answer's TTL.
	ttlOf := func(server, proto string) (uint32, error) {
		r, err := ask(server, proto, appFQDN, dns.TypeA)
		if err != nil {
			return 0, err
		}
		if r.Rcode != dns.RcodeSuccess || !slices.Equal(framework.Addresses(r), all) {
			return 0, fmt.Errorf("%s %v, want %v", dns.RcodeToString[r.Rcode], framework.Addresses(r), all)
		}
		return r.Answer[0].Header().Ttl, nil
	}
	// Every pod is asked in each round, so that each one's time is its own.
	took := map[string]time.Duration{}
	err := framework.Poll(t.Context(), reloadBudget, 250*time.Millisecond, func(context.Context) error {
		var waiting []string
		for _, s := range pods {
			if _, ok := took[s.pod.Name]; ok {
				continue
			}
			got, err := ttlOf(s.addr, "udp")
			switch {
			case err != nil:
				t.Fatalf("%s: the pod %s of %s at %s: %v", what, s.pod.Name, s.cluster, s.addr, err)
			case got == want:
				took[s.pod.Name] = time.Since(changed)
			default:
				waiting = append(waiting, fmt.Sprintf("%s/%s TTL %d", s.cluster, s.pod.Name, got))
			}
		}
		if len(waiting) > 0 {
			return fmt.Errorf("want TTL %d, and %s", want, strings.Join(waiting, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var seen []string
	for _, s := range pods {
		seen = append(seen, fmt.Sprintf("%s/%s %s", s.cluster, s.pod.Name, took[s.pod.Name].Round(100*time.Millisecond)))
	}
	t.Logf("%s: TTL %d seen from each pod after %s", what, want, strings.Join(seen, ", "))
	for _, ns := range nameservers {
		for _, proto := range []string{"udp", "tcp"} {
			for range 10 {
				got, err := ttlOf(ns, proto)
				if err != nil || got != want {
					t.Fatalf("%s: the nameserver %s over %s answers TTL %d (%v), want %d from every pod", what, ns, proto, got, err, want)
				}
			}
		}
	}
}

// restarts is how often the containers of a pod have restarted.
func restarts(s server) int32 {
	var n int32
	for _, c := range s.pod.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// reloadsLogged counts, per pod, the reloads CoreDNS logged as complete,
// read with kubectl logs.
func reloadsLogged(t *testing.T, pods []server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, s := range pods {
		res, err := kubectl.Run(t.Context(), "logs", "-n", v1alpha1.Namespace, "--context", s.cluster, "pod/"+s.pod.Name)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("reading the logs of the pod %s of %s: %v\n%s", s.pod.Name, s.cluster, err, res)
		}
		out[s.pod.Name] = strings.Count(res.Stdout, "[INFO] Reloading complete")
	}
	return out
}
