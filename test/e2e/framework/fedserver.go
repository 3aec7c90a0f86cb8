package framework

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// FedServer describes a coredns-fed serving a federation's zone on the
// machine, as the tests start one: a server block for the zone bound to
// one address, fed reading the federation through a kubeconfig and naming
// ns1 of the zone, and errors last. Only what a test needs beyond that is
// set; the rest has the value every test used.
type FedServer struct {
	// Zone is the zone the server block serves; ns1 is named in it.
	Zone string
	// Federation is the federation fed serves.
	Federation string
	// Kubeconfig is the file through which fed reaches the host.
	Kubeconfig string
	// Context is the context of Kubeconfig fed uses; the file's current
	// context when empty.
	Context string
	// Bind is the address the server binds to, and ns1's address unless
	// NS says otherwise; 127.0.0.1 when empty.
	Bind string
	// NS is ns1's address when it is not Bind's.
	NS string
	// Options are more lines of the fed block, after kubeconfig and ns,
	// such as "ttl 5" or "dnssec file PATH". An option may hold several
	// lines; each is indented as the block's, whatever it was indented
	// with, and an empty one is left out.
	Options []string
	// Before are plugin lines of the server block before fed, such as
	// conform, which must see a query first.
	Before []string
	// After are plugin lines of the server block after fed and before
	// errors, such as "prometheus ADDR" or "ready ADDR".
	After []string
	// Port is the DNS port; a port free on loopback when 0, which suits
	// only a server bound to loopback.
	Port int
}

// Corefile returns the Corefile of the server.
func (f FedServer) Corefile() string {
	bind := f.Bind
	if bind == "" {
		bind = "127.0.0.1"
	}
	ns := f.NS
	if ns == "" {
		ns = bind
	}
	kubeconfig := f.Kubeconfig
	if f.Context != "" {
		kubeconfig += " " + f.Context
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s {\n    bind %s\n", f.Zone, bind)
	writeLines(&b, "    ", f.Before)
	fmt.Fprintf(&b, "    fed %s {\n        kubeconfig %s\n        ns ns1.%s %s\n", f.Federation, kubeconfig, f.Zone, ns)
	writeLines(&b, "        ", f.Options)
	b.WriteString("    }\n")
	writeLines(&b, "    ", f.After)
	b.WriteString("    errors\n}\n")
	return b.String()
}

// writeLines writes each line of lines to b with indent before it. An
// element may hold several lines, indented or not, so that an option
// written for a Corefile of its own reads the same here.
func writeLines(b *strings.Builder, indent string, lines []string) {
	for _, l := range lines {
		for _, line := range strings.Split(l, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				b.WriteString(indent + line + "\n")
			}
		}
	}
}

// Start writes the server's Corefile to dir as Corefile.NAME and runs
// coredns-fed with it, as StartCoreDNSWith does, logging to
// dir/coredns-fed.NAME.log. It does not wait for the server to answer.
func (f FedServer) Start(dir, name string) (*CoreDNS, error) {
	port := f.Port
	if port == 0 {
		var err error
		if port, err = FreeDNSPort(); err != nil {
			return nil, err
		}
	}
	return StartCoreDNSWith(dir, name, f.Corefile(), port, CoreDNSOptions{Host: f.Bind})
}

// StartTest is Start for a test, which fails at once when the server does
// not start. The server is stopped when the test ends; if the test failed,
// what the server logged is logged with it, since the failure is often
// told there.
func (f FedServer) StartTest(t testing.TB, dir, name string) *CoreDNS {
	t.Helper()
	s, err := f.Start(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		if !t.Failed() {
			return
		}
		log, err := os.ReadFile(s.LogPath)
		if err != nil {
			t.Logf("coredns-fed %s: %v", name, err)
			return
		}
		t.Logf("coredns-fed %s at %s logged (%s):\n%s", name, s.Addr, s.LogPath, log)
	})
	return s
}
