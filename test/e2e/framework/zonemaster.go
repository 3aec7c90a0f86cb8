package framework

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Nameserver is a name server given to Zonemaster: a name and its address.
type Nameserver struct {
	Name string
	Addr netip.Addr
}

// ZonemasterOptions say what zone Zonemaster tests, and where.
type ZonemasterOptions struct {
	// Dir receives the profile and the root hints.
	Dir string
	// Zone is the zone tested.
	Zone string
	// Nameservers make the test undelegated: Zonemaster takes them as the
	// zone's delegation instead of asking its parent.
	Nameservers []Nameserver
	// Root is the only root server Zonemaster knows.
	Root Nameserver
	// Timeout bounds the whole run.
	Timeout time.Duration
	// DS are the zone's DS records, as the parent would hold them, for an
	// undelegated test of a signed zone.
	DS []*dns.DS
	// Tests are the modules (or module/test case) to run; empty for all.
	Tests []string
}

// ZonemasterRun is what a run of zonemaster-cli logged.
type ZonemasterRun struct {
	// Messages are every message at DEBUG and above, in the order logged.
	Messages []ZonemasterMessage
	// Stdout is the raw output, one JSON message a line; Stderr the rest.
	Stdout, Stderr string
	// Took is the run's wall-clock time.
	Took time.Duration
}

// ZonemasterMessage is one message of zonemaster-cli's --json-stream
// output.
type ZonemasterMessage struct {
	Timestamp float64        `json:"timestamp"`
	Level     string         `json:"level"`
	Module    string         `json:"module"`
	Testcase  string         `json:"testcase"`
	Tag       string         `json:"tag"`
	Args      map[string]any `json:"args"`
}

// zonemasterSeverity orders Zonemaster's levels.
var zonemasterSeverity = map[string]int{
	"DEBUG3": 0, "DEBUG2": 1, "DEBUG": 2, "INFO": 3, "NOTICE": 4, "WARNING": 5, "ERROR": 6, "CRITICAL": 7,
}

// AtLeast reports whether the message's level is level or higher.
func (m ZonemasterMessage) AtLeast(level string) bool {
	sev, ok := zonemasterSeverity[m.Level]
	if !ok {
		// A level this code does not know is not to be ignored.
		return true
	}
	return sev >= zonemasterSeverity[level]
}

// String renders the message on one line: level, test case, tag and
// arguments, sorted.
func (m ZonemasterMessage) String() string {
	keys := make([]string, 0, len(m.Args))
	for k := range m.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var args []string
	for _, k := range keys {
		v, _ := json.Marshal(m.Args[k])
		args = append(args, k+"="+string(v))
	}
	return fmt.Sprintf("%-8s %-14s %s %s", m.Level, m.Testcase, m.Tag, strings.Join(args, " "))
}

// TestCases returns the test cases that ran to their end, sorted.
func (r *ZonemasterRun) TestCases() []string {
	var out []string
	for _, m := range r.Messages {
		// The DNSSEC module also ends a pseudo case "all", its whole run.
		if tc, ok := m.Args["testcase"].(string); ok && m.Tag == "TEST_CASE_END" && tc != "all" {
			out = append(out, tc)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Queried returns the addresses Zonemaster logged queries to (tag
// EXTERNAL_QUERY), sorted.
func (r *ZonemasterRun) Queried() []string {
	var out []string
	for _, m := range r.Messages {
		if ip, ok := m.Args["ip"].(string); ok && m.Tag == "EXTERNAL_QUERY" {
			out = append(out, ip)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// zonemasterProfile changes Zonemaster's default profile to keep it on
// loopback and quick. Every query leaves from 127.0.0.1, which the kernel
// will not route anywhere but loopback (EINVAL, with
// net.ipv4.conf.*.route_localnet off, the default); IPv6 is off. AS
// lookups are Cymru-style DNS queries, which then go, through the loopback
// root, to a name under .invalid (RFC 6761) and find nothing; the RIPE
// style would dial a whois server through the system's resolver instead.
// The servers are on loopback: one second per try is plenty, and a server
// that does not answer costs little. An open zone transfer, a NOTICE by
// default, is a WARNING here: coredns-fed must refuse AXFR (issue 12), and
// a check at WARNING or above holds it to that.
//
// A profile file replaces whole objects of the default (a test_levels
// entry of one message would drop every other level of its module), so
// the changes are made to the default profile, as zonemaster-cli dumps it.
func zonemasterProfile(p map[string]any) error {
	set := func(value any, path ...string) error {
		m := p
		for _, k := range path[:len(path)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				return fmt.Errorf("zonemaster-cli's default profile has no %s", strings.Join(path[:len(path)-1], "."))
			}
			m = next
		}
		last := path[len(path)-1]
		if _, ok := m[last]; !ok {
			return fmt.Errorf("zonemaster-cli's default profile has no %s", strings.Join(path, "."))
		}
		m[last] = value
		return nil
	}
	for _, change := range []struct {
		value any
		path  []string
	}{
		{false, []string{"net", "ipv6"}},
		{"127.0.0.1", []string{"resolver", "source"}},
		{1, []string{"resolver", "defaults", "timeout"}},
		{1, []string{"resolver", "defaults", "retrans"}},
		{2, []string{"resolver", "defaults", "retry"}},
		{"cymru", []string{"asn_db", "style"}},
		{map[string]any{"cymru": []string{"asn.invalid"}}, []string{"asn_db", "sources"}},
		{"WARNING", []string{"test_levels", "NAMESERVER", "AXFR_AVAILABLE"}},
	} {
		if err := set(change.value, change.path...); err != nil {
			return err
		}
	}
	return nil
}

// writeZonemasterProfile writes the profile of a run to path.
func writeZonemasterProfile(ctx context.Context, bin, path string) error {
	cmd := exec.CommandContext(ctx, bin, "--dump-profile")
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANGUAGE=")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("zonemaster-cli --dump-profile: %w", err)
	}
	// It may say which profile it loaded before the JSON.
	start := bytes.IndexByte(out, '{')
	if start < 0 {
		return fmt.Errorf("zonemaster-cli --dump-profile printed no profile: %q", out)
	}
	var p map[string]any
	if err := json.Unmarshal(out[start:], &p); err != nil {
		return fmt.Errorf("zonemaster-cli's default profile: %w", err)
	}
	if err := zonemasterProfile(p); err != nil {
		return err
	}
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// RunZonemaster runs Debian's zonemaster-cli on opts.Zone as an undelegated
// test of opts.Nameservers, starting from the one root server opts.Root,
// and returns every message it logged. It fails if zonemaster-cli does not
// run to its end. The root must be on loopback; the nameservers may also be
// on the machine's local routes (see LocalAddr), such as the lab's
// load-balancer addresses for real nodes, which Zonemaster reaches from
// 127.0.0.1 over loopback.
func RunZonemaster(ctx context.Context, opts ZonemasterOptions) (*ZonemasterRun, error) {
	bin, err := exec.LookPath("zonemaster-cli")
	if err != nil {
		return nil, fmt.Errorf("zonemaster-cli is not installed (apt-get install zonemaster-cli; `make e2e` does it): %w", err)
	}
	if !opts.Root.Addr.IsLoopback() {
		return nil, fmt.Errorf("root server %s: %s is not a loopback address", opts.Root.Name, opts.Root.Addr)
	}
	if len(opts.Nameservers) == 0 {
		return nil, errors.New("no nameservers to test")
	}
	profile := filepath.Join(opts.Dir, "zonemaster-profile.json")
	if err := writeZonemasterProfile(ctx, bin, profile); err != nil {
		return nil, err
	}
	hints := filepath.Join(opts.Dir, "zonemaster-root.hints")
	root := dns.Fqdn(opts.Root.Name)
	if err := os.WriteFile(hints, fmt.Appendf(nil, ".\t3600000\tIN\tNS\t%s\n%s\t3600000\tIN\tA\t%s\n", root, root, opts.Root.Addr), 0o600); err != nil {
		return nil, err
	}
	args := []string{
		"--json-stream", "--level", "DEBUG", "--no-progress",
		"--no-ipv6", "--profile", profile, "--hints", hints,
	}
	for _, ns := range opts.Nameservers {
		if err := LocalAddr(ns.Addr); err != nil {
			return nil, fmt.Errorf("nameserver %s: %w", ns.Name, err)
		}
		args = append(args, "--ns", strings.TrimSuffix(ns.Name, ".")+"/"+ns.Addr.String())
	}
	for _, ds := range opts.DS {
		args = append(args, "--ds", fmt.Sprintf("%d,%d,%d,%s", ds.KeyTag, ds.Algorithm, ds.DigestType, ds.Digest))
	}
	for _, t := range opts.Tests {
		args = append(args, "--test", t)
	}
	args = append(args, strings.TrimSuffix(opts.Zone, "."))

	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// Messages are tags with arguments; a locale this machine lacks would
	// only add warnings.
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "LANGUAGE=")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	begin := time.Now()
	err = cmd.Run()
	run := &ZonemasterRun{Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(begin)}
	if ctx.Err() != nil {
		return run, fmt.Errorf("zonemaster-cli did not finish within %s", opts.Timeout)
	}
	if err != nil {
		return run, fmt.Errorf("zonemaster-cli %s: %v", strings.Join(args, " "), err)
	}
	for line := range strings.Lines(run.Stdout) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var m ZonemasterMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			return run, fmt.Errorf("zonemaster-cli printed a line that is not a JSON message: %q: %v", line, err)
		}
		run.Messages = append(run.Messages, m)
	}
	return run, nil
}
