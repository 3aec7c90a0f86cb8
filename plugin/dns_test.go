package plugin

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func TestDelegationRecords(t *testing.T) {
	servers := nameservers("demo.example.com", []corev1.LoadBalancerIngress{
		{IP: "127.0.0.9"}, {IP: "2001:db8::53"}, {Hostname: "abc.elb.example.net"},
	})
	var b bytes.Buffer
	printDelegation(&b, "demo.example.com", servers)
	want := "demo.example.com.\tIN\tNS\tns1.demo.example.com.\n" +
		"demo.example.com.\tIN\tNS\tns2.demo.example.com.\n" +
		"demo.example.com.\tIN\tNS\tabc.elb.example.net.\n" +
		"ns1.demo.example.com.\tIN\tA\t127.0.0.9\n" +
		"ns2.demo.example.com.\tIN\tAAAA\t2001:db8::53\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}

	base := "{$KFED_DOMAIN} {\n    fed {$KFED_FEDERATION}\n    errors\n}\n"
	got := corefileWithNameservers(base, servers)
	wantCorefile := "{$KFED_DOMAIN} {\n    fed {$KFED_FEDERATION} {\n" +
		"        ns ns1.demo.example.com 127.0.0.9\n" +
		"        ns ns2.demo.example.com 2001:db8::53\n" +
		"        ns abc.elb.example.net\n" +
		"    }\n    errors\n}\n"
	if got != wantCorefile {
		t.Errorf("Corefile\n%s\nwant\n%s", got, wantCorefile)
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
