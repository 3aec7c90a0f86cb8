//go:build e2e

package delegation_test

// The file's name puts its test before install_test.go's, whose last test
// unjoins jpn.

import (
	"encoding/json"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/pkg/explain"
	"github.com/kfed-dev/kfed/test/e2e/framework"
)

// TestPodsAskedThroughProxy asks the coredns-fed pods themselves, as an
// operator does: through each cluster's API server's pod proxy, with the
// lab kubeconfig's own contexts. kubectl fed status reads every pod's last
// sync from its metrics, and kubectl fed dns explain asks every pod of the
// federation, the members' too, each report agreeing with what the pod
// answers over DNS.
func TestPodsAskedThroughProxy(t *testing.T) {
	framework.SkipWithoutRealPods(t)
	in := setUp(t)
	pods := corednsPods(t)

	t.Run("status", func(t *testing.T) {
		res, err := kubectl.Run(t.Context(), "fed", "status", "--context", host, "--drift=false", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Servers []struct {
				Address, Cluster, SyncError string
				Pods                        []struct {
					Name, Oldest, Error string
					LastSync            *time.Time
				}
			}
			Problems []struct{ Subject, Message string }
		}
		if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
			t.Fatalf("%v in:\n%s", err, res)
		}
		asked := 0
		for _, s := range st.Servers {
			var want, got []string
			for _, p := range pods {
				if p.cluster == s.Cluster {
					want = append(want, p.pod.Name)
				}
			}
			for _, p := range s.Pods {
				got = append(got, p.Name)
				switch {
				case p.Error != "" || p.LastSync == nil:
					t.Errorf("server %s, pod %s: no last sync: %s", s.Address, p.Name, p.Error)
				case time.Since(*p.LastSync) > 10*time.Second || p.Oldest == "":
					t.Errorf("server %s, pod %s: last synced with %q %s ago, want under 10s", s.Address, p.Name, p.Oldest, time.Since(*p.LastSync))
				}
				asked++
			}
			slices.Sort(want)
			slices.Sort(got)
			if s.SyncError != "" || !slices.Equal(got, want) {
				t.Errorf("server %s of %s: pods %v (%s), want %v", s.Address, s.Cluster, got, s.SyncError, want)
			}
		}
		if asked != len(pods) {
			t.Errorf("status read the last sync of %d pods, want all %d:\n%s", asked, len(pods), res)
		}
		for _, p := range st.Problems {
			if strings.Contains(p.Message, "last synced") {
				t.Errorf("%s: %s", p.Subject, p.Message)
			}
		}

		table, err := kubectl.Run(t.Context(), "fed", "status", "--context", host, "--drift=false")
		if err != nil || table.ExitCode != 0 {
			t.Errorf("status of a healthy federation: %v\n%s", err, table)
		}
		t.Logf("kubectl fed status:\n%s", table.Stdout)
		if strings.Contains(table.Stdout, "<unknown>") || strings.Count(table.Stdout, "s ago ") < len(members) {
			t.Errorf("the servers table lacks a LAST SYNC for each server:\n%s", table.Stdout)
		}
	})

	t.Run("member context", memberContext)

	t.Run("explain", func(t *testing.T) {
		const ecs = "198.51.100.0/24"
		res := kubectl.Succeed(t, "fed", "dns", "explain", appName+"."+appNS, "--context", host, "--ecs", ecs, "-o", "json")
		var list struct{ Items []explain.Report }
		if err := json.Unmarshal([]byte(res.Stdout), &list); err != nil {
			t.Fatalf("%v in:\n%s", err, res)
		}
		reports := map[string]explain.Report{}
		for _, r := range list.Items {
			reports[r.Server] = r
		}
		all := addrsOf(in.app, members...)
		for _, p := range pods {
			label := "kfed-system/" + p.pod.Name + " in " + p.cluster
			r, ok := reports[label]
			if !ok {
				t.Errorf("no report of %s: explain asked %v", label, slices.Sorted(maps.Keys(reports)))
				continue
			}
			got := recordAddrs(t, r.Answer.Records)
			if r.Answer.Rcode != "NOERROR" || len(got) == 0 || !subset(got, all) {
				t.Errorf("%s explains %s %v, want NOERROR with addresses of %v", label, r.Answer.Rcode, got, all)
			}
			// The pod's own answer, for a resolver that sends the same subnet.
			m := new(dns.Msg)
			m.SetQuestion(appFQDN, dns.TypeA)
			_, subnet, _ := net.ParseCIDR(ecs)
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: subnet.IP})
			reply, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, p.addr)
			if err != nil {
				t.Fatalf("asking %s at %s: %v", label, p.addr, err)
			}
			var answered []string
			for _, rr := range reply.Answer {
				if a, ok := rr.(*dns.A); ok {
					answered = append(answered, a.A.String())
				}
			}
			slices.Sort(answered)
			if !slices.Equal(got, answered) {
				t.Errorf("%s explains %v, and answers %v", label, got, answered)
			}
		}
	})
}

// recordAddrs returns the sorted addresses of explain's A records.
func recordAddrs(t *testing.T, records []string) []string {
	t.Helper()
	var out []string
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("explain's record %q: %v", s, err)
		}
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

func subset(some, all []string) bool {
	for _, s := range some {
		if !slices.Contains(all, s) {
			return false
		}
	}
	return true
}
