package framework

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Delv asks resolver (ADDRESS:PORT, a recursive resolver on loopback) for
// name and qtype with BIND's delv, which fetches the DNSKEY and DS records
// it needs through the resolver and validates the answer itself, from the
// trust anchor key alone: a validator other than the resolver's. It
// returns delv's output, which says "; fully validated" for an answer that
// validates and "; negative response, fully validated" for a denial that
// does.
func Delv(ctx context.Context, dir, resolver string, anchor *dns.DNSKEY, name string, qtype uint16) (string, error) {
	bin, err := exec.LookPath("delv")
	if err != nil {
		return "", fmt.Errorf("delv is not installed (apt-get install bind9-dnsutils; `make e2e` does it): %w", err)
	}
	host, port, err := net.SplitHostPort(resolver)
	if err != nil {
		return "", err
	}
	anchors := filepath.Join(dir, "delv-anchors.conf")
	conf := fmt.Sprintf("trust-anchors {\n    %s static-key %d %d %d \"%s\";\n};\n", anchor.Hdr.Name, anchor.Flags, anchor.Protocol, anchor.Algorithm, anchor.PublicKey)
	if err := os.WriteFile(anchors, []byte(conf), 0o600); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "@"+host, "-p", port, "-a", anchors, "+root="+strings.TrimSuffix(anchor.Hdr.Name, "."),
		"-t", dns.TypeToString[qtype], dns.Fqdn(name)).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("delv %s %s: %v\n%s", name, dns.TypeToString[qtype], err, out)
	}
	return string(out), nil
}
