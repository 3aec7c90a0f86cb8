package main

import (
	"slices"
	"testing"
)

func TestShown(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"fed", "join", "eur", "--context", "usa"}, "kubectl fed join eur --context usa"},
		{[]string{"-o", "jsonpath={.spec.replicas}"}, "kubectl -o 'jsonpath={.spec.replicas}'"},
		{[]string{"it's"}, `kubectl 'it'\''s'`},
	} {
		if got := shown("kubectl", tc.args...); got != tc.want {
			t.Errorf("shown(%q) = %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestDelegationRecords(t *testing.T) {
	out := "coredns-fed serves demo.example.com. at:\n\n" +
		"NAMESERVER             ADDRESS        CLUSTER\n" +
		"ns1.demo.example.com   10.239.180.1   usa (host)\n\n" +
		"demo.example.com.\tIN\tNS\tns1.demo.example.com.\n" +
		"ns1.demo.example.com.\tIN\tA\t10.239.180.1\n" +
		"\nThen check the servers with: kubectl fed dns check\n"
	records, servers := delegationRecords(out)
	if want := []string{"demo.example.com.\tIN\tNS\tns1.demo.example.com.", "ns1.demo.example.com.\tIN\tA\t10.239.180.1"}; !slices.Equal(records, want) {
		t.Errorf("records %q, want %q", records, want)
	}
	if want := []string{"10.239.180.1"}; !slices.Equal(servers, want) {
		t.Errorf("servers %q, want %q", servers, want)
	}
}
