package plugin

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestDelegationRecords(t *testing.T) {
	servers, _ := numberNameservers("demo.example.com", nil, nil, []nsCluster{
		{id: "u", name: "usa", label: "usa (host)", ingress: []corev1.LoadBalancerIngress{{IP: "127.0.0.9"}, {IP: "2001:db8::53"}}},
		{id: "e", name: "eur", label: "eur", ingress: []corev1.LoadBalancerIngress{{Hostname: "abc.elb.example.net"}}},
		{id: "j", name: "jpn", label: "jpn", ingress: []corev1.LoadBalancerIngress{{IP: "127.0.2.9"}}},
	})
	var b bytes.Buffer
	printDelegation(&b, "demo.example.com", servers)
	want := "demo.example.com.\tIN\tNS\tns1.demo.example.com.\n" +
		"demo.example.com.\tIN\tNS\tns2.demo.example.com.\n" +
		"demo.example.com.\tIN\tNS\tns3.demo.example.com.\n" +
		"demo.example.com.\tIN\tNS\tabc.elb.example.net.\n" +
		"ns1.demo.example.com.\tIN\tA\t127.0.0.9\n" +
		"ns2.demo.example.com.\tIN\tAAAA\t2001:db8::53\n" +
		"ns3.demo.example.com.\tIN\tA\t127.0.2.9\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	b.Reset()
	if err := printServers(&b, servers); err != nil {
		t.Fatal(err)
	}
	wantTable := "NAMESERVER             ADDRESS        CLUSTER\n" +
		"ns1.demo.example.com   127.0.0.9      usa (host)\n" +
		"ns2.demo.example.com   2001:db8::53   usa (host)\n" +
		"ns3.demo.example.com   127.0.2.9      jpn\n" +
		"abc.elb.example.net    -              eur\n"
	if b.String() != wantTable {
		t.Errorf("table\n%s\nwant\n%s", b.String(), wantTable)
	}

	// Every server names the same nameservers; a member's also reads the
	// host through the kubeconfig that install mounts.
	o := &DNSInstallOptions{TTL: 7, NSTTL: 600, Rname: "dns-admin@example.com"}
	base := "{$KFED_DOMAIN} {\n    fed {$KFED_FEDERATION}\n    errors\n}\n"
	nsLines := "        ttl 7\n" +
		"        ns_ttl 600\n" +
		"        rname dns-admin@example.com\n" +
		"        ns ns1.demo.example.com 127.0.0.9\n" +
		"        ns ns2.demo.example.com 2001:db8::53\n" +
		"        ns ns3.demo.example.com 127.0.2.9\n" +
		"        ns abc.elb.example.net\n"
	for _, tc := range []struct {
		cluster *dnsCluster
		options string
	}{
		{&dnsCluster{name: "usa", host: true}, nsLines},
		{&dnsCluster{name: "jpn"}, "        kubeconfig /etc/kfed-host/kubeconfig\n" + nsLines},
	} {
		want := "{$KFED_DOMAIN} {\n    fed {$KFED_FEDERATION} {\n" + tc.options + "    }\n    errors\n}\n"
		if got := corefileWithOptions(base, o.fedOptions(tc.cluster, servers)); got != want {
			t.Errorf("Corefile of %s\n%s\nwant\n%s", tc.cluster.name, got, want)
		}
	}

	// A base that sets options of its own keeps them, after install's.
	withBlock := "{$KFED_DOMAIN} {\n    fed {$KFED_FEDERATION} {\n        snapshot /var/lib/coredns-fed/snapshot\n    }\n    errors\n}\n"
	want = "{$KFED_DOMAIN} {\n    fed {$KFED_FEDERATION} {\n        ttl 7\n        ns ns1.example.net\n        snapshot /var/lib/coredns-fed/snapshot\n    }\n    errors\n}\n"
	if got := corefileWithOptions(withBlock, []string{"ttl 7", "ns ns1.example.net"}); got != want {
		t.Errorf("Corefile from a base with a block\n%s\nwant\n%s", got, want)
	}
}

func TestCABundle(t *testing.T) {
	a, b := []byte("-----A-----\n"), []byte("-----B-----\n")
	for _, tc := range []struct {
		a, b []byte
		want string
	}{
		{a, nil, "-----A-----\n"},
		{nil, b, "-----B-----\n"},
		{a, []byte("-----A-----"), "-----A-----\n"},
		{a, b, "-----A-----\n-----B-----\n"},
	} {
		if got := string(caBundle(tc.a, tc.b)); got != tc.want {
			t.Errorf("caBundle(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "# bash completion V2 for kubectl-fed",
		"zsh":        "#compdef kubectl-fed",
		"fish":       "# fish completion for kubectl-fed",
		"powershell": "# powershell completion for kubectl-fed",
	} {
		streams, _, out, _ := genericiooptions.NewTestIOStreams()
		root := NewCmdFed(streams)
		root.SetArgs([]string{"completion", shell})
		if err := root.Execute(); err != nil {
			t.Fatalf("%s: %v", shell, err)
		}
		if !strings.HasPrefix(out.String(), want) {
			t.Errorf("%s script starts %q, want %q", shell, firstLine(out.String()), want)
		}
		if root.Use != "fed" {
			t.Errorf("the root command's name was left as %q", root.Use)
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestIsMailbox(t *testing.T) {
	for s, want := range map[string]bool{
		"dns-admin@example.com":   true,
		"first.last@example.com":  true,
		"hostmaster@example.com.": true,
		"hostmaster.example.com":  false,
		"@example.com":            false,
		"a@com":                   false,
		"a@b_c.example":           false,
		"a b@example.com":         false,
		"a}@example.com":          false,
	} {
		if got := isMailbox(s); got != want {
			t.Errorf("isMailbox(%q) = %v, want %v", s, got, want)
		}
	}
}
