package main

// The delegation: coredns-fed in every cluster, as real pods, and a real
// recursive resolver that finds it through the parent zone.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/e2e/framework"
)

const parentZone = "example.com"

func (d *demo) delegation() error {
	if d.realPods != nil {
		step("Skipping coredns-fed in pods and the delegation: %v", d.realPods)
		fmt.Println("They need real lab nodes: run make demo as root on Debian, which installs containerd, runc and containernetworking-plugins.")
		return nil
	}
	unbound, err := findUnbound()
	if err != nil {
		return err
	}
	dir := filepath.Join(d.dir, "delegation")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	// A demo run before pods ran these servers itself.
	stopEarlier(pidFiles(dir)...)

	step("Installing coredns-fed into the host and every member, as pods from the image make lab-image built, the zone signed (DNSSEC); it prints the records for the parent zone, the DS among them")
	out, err := runTee("kubectl", "fed", "dns", "install", "--context", host, "--all-clusters", "--ttl", "5", "--dnssec")
	if err != nil {
		return err
	}
	records, servers := delegationRecords(out)
	if len(records) == 0 {
		return errors.New("install printed no records")
	}

	step("The pods, on each cluster's real node, and what one of them logged")
	for _, ctx := range d.contexts {
		if err := run("kubectl", "--context", ctx, "-n", "kfed-system", "get", "pods", "-o", "wide"); err != nil {
			return err
		}
	}
	if err := run("kubectl", "--context", "eur", "-n", "kfed-system", "logs", "deploy/coredns-fed", "--tail", "5"); err != nil {
		return err
	}
	for _, addr := range servers {
		if err := awaitAnswer(nil, addr+":53", app, dns.TypeA); err != nil {
			return err
		}
	}

	parentAddr := "127.0.0.1:" + strconv.Itoa(d.parentPort)
	step("The parent zone %s, holding those records, signed with a key of its own by CoreDNS's sign plugin, and served by coredns-fed's file plugin on %s", parentZone, parentAddr)
	zone := fmt.Sprintf("$ORIGIN %[1]s.\n$TTL 3600\n@\tIN\tSOA\tns.%[1]s. hostmaster.%[1]s. 1 7200 3600 1209600 5\n@\tIN\tNS\tns.%[1]s.\nns\tIN\tA\t127.0.0.1\n%[2]s\n",
		parentZone, strings.Join(records, "\n"))
	fmt.Print(zone)
	signed, err := framework.SignZone(dir, parentZone, zone)
	if err != nil {
		return err
	}
	conf, err := d.writeCorefile("delegation/Corefile.parent", fmt.Sprintf("%s {\n    bind 127.0.0.1\n    file %s\n    errors\n}\n", parentZone, signed.Path))
	if err != nil {
		return err
	}
	parent, err := startServer("coredns-fed (parent)", filepath.Join(dir, "coredns-fed-parent.pid"), filepath.Join(dir, "coredns-fed-parent.log"), nil,
		"coredns-fed", "-conf", conf, "-dns.port", strconv.Itoa(d.parentPort))
	if err != nil {
		return err
	}
	d.servers = append(d.servers, parent)
	if err := awaitAnswer(parent, parentAddr, parentZone, dns.TypeSOA); err != nil {
		return err
	}

	step("Checking every server, its signatures, and the delegation in the parent")
	if err := run("kubectl", "fed", "dns", "check", "--context", host, "--name", "hello.default", "--parent", parentAddr); err != nil {
		return err
	}

	step("The federation on one screen: members, every server's SOA and the last sync of its pods, read through the pod proxy")
	if err := run("kubectl", "fed", "status", "--context", host, "--drift=false"); err != nil {
		return err
	}

	resolver, err := d.startUnbound(unbound, dir, parentAddr, signed.TrustAnchor())
	if err != nil {
		return err
	}
	step("Resolving through unbound: the parent refers it to coredns-fed's pods, whose answer it validates from the parent's key (AD) and keeps for the TTL, 5 s")
	if _, err := d.query(resolver, "-t", "NS", domain); err != nil {
		return err
	}
	validated := func(args ...string) error {
		out, err := d.query(resolver, append([]string{"-dnssec"}, args...)...)
		if err == nil && !strings.Contains(out, "validated (AD)") {
			err = fmt.Errorf("unbound did not validate the answer to %s: see its log, %s", strings.Join(args, " "), filepath.Join(dir, "unbound.log"))
		}
		return err
	}
	if err := validated("-wait", "20s", app); err != nil {
		return err
	}
	step("The zone's CDS record: the DS the parent holds, published for parents that take it from the zone (RFC 7344)")
	if err := validated("-t", "CDS", domain); err != nil {
		return err
	}

	replicas, err := output("kubectl", "--context", "jpn", "get", "deployment", "hello", "-o", "jsonpath={.spec.replicas}")
	if err != nil {
		return err
	}
	step("The app fails in jpn (no replicas left): once what unbound holds expires, its answer leaves %s", d.lb["jpn"])
	if err := run("kubectl", "--context", "jpn", "scale", "deployment/hello", "--replicas", "0"); err != nil {
		return err
	}
	if _, err := d.query(resolver, "-wait", "30s", "-without", d.lb["jpn"], app); err != nil {
		return err
	}
	step("jpn recovers: it is back in unbound's answer")
	if err := run("kubectl", "--context", "jpn", "scale", "deployment/hello", "--replicas", replicas); err != nil {
		return err
	}
	_, err = d.query(resolver, "-wait", "30s", "-with", d.lb["jpn"], app)
	return err
}

// delegationRecords returns the records install printed for the parent
// zone, and the addresses of its nameservers.
func delegationRecords(out string) (records, servers []string) {
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "\tIN\t") {
			continue
		}
		records = append(records, line)
		if f := strings.Split(line, "\t"); len(f) == 4 && f[2] == "A" {
			servers = append(servers, f[3])
		}
	}
	return records, servers
}

// startUnbound runs Debian's unbound on the resolver port, with stub zones
// for the parent and the root that send every question to the parent, so
// that nothing leaves the machine, and the parent's key as its trust
// anchor.
func (d *demo) startUnbound(unbound, dir, parentAddr, anchor string) (string, error) {
	addr := "127.0.0.1:" + strconv.Itoa(d.resolverPort)
	step("A validating recursive resolver, unbound, on %s: it starts at the parent, trusting the parent's key, and follows the delegation", addr)
	// Stubs for the parent and the root send every question to the parent.
	conf, err := framework.UnboundConfig(dir, d.resolverPort, []framework.Stub{
		{Zone: parentZone, Addrs: []string{parentAddr}},
		{Zone: ".", Addrs: []string{parentAddr}},
	}, framework.UnboundOptions{TrustAnchors: []string{anchor}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return "", err
	}
	fmt.Print(conf)
	s, err := startServer("unbound", filepath.Join(dir, "unbound.pid"), filepath.Join(dir, "unbound.log"), nil, unbound, "-d", "-p", "-c", path)
	if err != nil {
		return "", err
	}
	d.servers = append(d.servers, s)
	return addr, awaitAnswer(s, addr, parentZone, dns.TypeSOA)
}

// findUnbound returns unbound's path, installing Debian's package if it is
// missing, as `make e2e` does. Installing it may start its service, where an
// init system runs: that is stopped, so that nothing of it holds port 53 or
// rewrites resolv.conf.
func findUnbound() (string, error) {
	if p, err := framework.UnboundPath(); err == nil {
		return p, nil
	}
	step("Installing Debian's unbound, the recursive resolver of the delegation step")
	install := []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "unbound"}
	if run(install[0], install[1:]...) != nil {
		if err := run("apt-get", "update"); err != nil {
			return "", err
		}
		if err := run(install[0], install[1:]...); err != nil {
			return "", err
		}
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		_ = command(os.Stdout, "systemctl", "disable", "--now", "unbound-resolvconf.service", "unbound.service")
	} else if _, err := exec.LookPath("service"); err == nil {
		_ = command(os.Stdout, "service", "unbound", "stop")
	}
	return framework.UnboundPath()
}

// pidFiles lists the pid files in dir.
func pidFiles(dir string) []string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.pid"))
	return files
}

// summary says what is left running and how to use and stop it.
func (d *demo) summary() {
	what := "The lab and coredns-fed are"
	if d.realPods == nil {
		what = "The lab, coredns-fed (in pods, and outside) and unbound are"
	}
	step("Done. %s still running.", what)
	fmt.Printf("  export KUBECONFIG=%s\n", filepath.Join(d.dir, "kubeconfig"))
	fmt.Printf("  %s -s 127.0.0.1:%d %s\n", d.dnsq, d.dnsPort, app)
	fmt.Printf("  kfed-lab status --dir %s        # programs and memory\n", d.dir)
	fmt.Printf("  kfed-lab lb down %s --dir %s   # break jpn's load balancer\n", d.lb["jpn"], d.dir)
	fmt.Printf("  kfed-lab apiserver stop eur --dir %s  # break a cluster's control plane\n", d.dir)
	fmt.Printf("  %s -s 127.0.0.1:%d -ecs 192.0.2.0/24 %s   # as a client in Tokyo\n", d.dnsq, d.geoPort, app)
	if d.realPods == nil {
		fmt.Printf("  %s -s 127.0.0.1:%d -dnssec %s   # through unbound and the delegation, validated\n", d.dnsq, d.resolverPort, app)
		fmt.Printf("  kubectl fed dns explain hello.default --context usa --client 192.0.2.1   # why each pod answers what it does\n")
		fmt.Printf("  kubectl --context usa -n kfed-system delete pod -l app.kubernetes.io/name=coredns-fed --wait=false  # the Deployment replaces them\n")
	}
	var pids []string
	for _, s := range d.servers {
		pids = append(pids, s.pidFile)
	}
	fmt.Printf("Stop the demo's servers with: kill $(cat %s)\n", strings.Join(pids, " "))
	if rel, err := filepath.Rel(filepath.Dir(d.here), d.dir); err == nil && rel == "../.lab" {
		fmt.Println("Stop them and the lab with:   make lab-down")
	} else {
		fmt.Printf("Stop them and the lab with:   make lab-down LAB_DIR=%s\n", d.dir)
	}
}
