package main

// coredns-fed outside the clusters: a server that reads the federation with
// the lab's kubeconfig, and one that answers with the nearest cluster.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// buildDNSQ builds the demo's DNS client: dig is not on every machine.
func (d *demo) buildDNSQ() error {
	d.dnsq = filepath.Join(d.dir, "dnsq")
	return command(os.Stdout, "go", "build", "-o", d.dnsq, "./test/demo/dnsq")
}

// dnsq shows and runs the demo's DNS client against server.
func (d *demo) query(server string, args ...string) (string, error) {
	args = append([]string{"-s", server}, args...)
	note("$ %s", shown("dnsq", args...))
	var out strings.Builder
	err := command(&out, d.dnsq, args...)
	fmt.Print(out.String())
	return out.String(), err
}

// writeCorefile writes a Corefile into the lab's directory and shows it.
func (d *demo) writeCorefile(name, corefile string) (string, error) {
	path := filepath.Join(d.dir, name)
	if err := os.WriteFile(path, []byte(corefile), 0o600); err != nil {
		return "", err
	}
	fmt.Print(corefile)
	return path, nil
}

func (d *demo) startServer() error {
	addr := "127.0.0.1:" + strconv.Itoa(d.dnsPort)
	step("Starting coredns-fed on %s, authoritative for %s, reading the federation with the lab's kubeconfig", addr, domain)
	conf, err := d.writeCorefile("Corefile", fmt.Sprintf(`%s {
    bind 127.0.0.1
    fed %s {
        kubeconfig %s %s
        ns ns1.%s 127.0.0.1
    }
    errors
}
`, domain, federation, filepath.Join(d.dir, "kubeconfig"), host, domain))
	if err != nil {
		return err
	}
	s, err := startServer("coredns-fed", filepath.Join(d.dir, "coredns-fed.pid"), filepath.Join(d.dir, "coredns-fed.log"), nil,
		"coredns-fed", "-conf", conf, "-dns.port", strconv.Itoa(d.dnsPort))
	if err != nil {
		return err
	}
	d.servers = append(d.servers, s)
	if err := d.buildDNSQ(); err != nil {
		return err
	}
	// Ready once the sample app has an answer.
	if err := awaitAnswer(s, addr, app, dns.TypeA); err != nil {
		return err
	}

	step("Every cluster's address, for the global name")
	if _, err := d.query(addr, app); err != nil {
		return err
	}
	step("One region's and one zone's addresses")
	if _, err := d.query(addr, "hello.default."+federation+".svc.eu-west-1."+domain,
		"hello.default."+federation+".svc.ap-northeast-1a.ap-northeast-1."+domain); err != nil {
		return err
	}
	step("SRV for the named port http")
	_, err = d.query(addr, "-t", "SRV", "_http._tcp."+app)
	return err
}

// loadBalancerDown takes eur's load balancer down and up again.
func (d *demo) loadBalancerDown() error {
	addr := "127.0.0.1:" + strconv.Itoa(d.dnsPort)
	down := d.lb["eur"]
	step("Taking eur's load-balancer address %s down: it leaves the answers", down)
	if err := run("kfed-lab", "lb", "down", down, "--dir", d.dir); err != nil {
		return err
	}
	if _, err := d.query(addr, "-wait", "30s", "-without", down, app); err != nil {
		return err
	}
	fmt.Println("and eu-west-1, with nothing healthy, answers with the global addresses:")
	if _, err := d.query(addr, "hello.default."+federation+".svc.eu-west-1."+domain); err != nil {
		return err
	}
	step("Bringing it back up: it returns")
	if err := run("kfed-lab", "lb", "up", down, "--dir", d.dir); err != nil {
		return err
	}
	_, err := d.query(addr, "-wait", "30s", "-with", down, app)
	return err
}

// geo runs a second coredns-fed with policy geo and a small city database,
// and asks it as clients in three cities.
func (d *demo) geo() error {
	addr := "127.0.0.1:" + strconv.Itoa(d.geoPort)
	step("Starting a second coredns-fed on %s, answering with the nearest cluster (policy geo)", addr)
	// 192.0.2.0/24 in Tokyo, 198.51.100.0/24 in Dublin, 203.0.113.0/24 in
	// Ashburn, Virginia.
	mmdb := filepath.Join(d.dir, "demo.mmdb")
	if err := command(os.Stdout, "go", "run", "./test/demo/geodb", mmdb); err != nil {
		return err
	}
	conf, err := d.writeCorefile("Corefile.geo", fmt.Sprintf(`%s {
    bind 127.0.0.1
    fed %s {
        kubeconfig %s %s
        ns ns1.%s 127.0.0.1
        policy geo
        geoip %s
    }
    errors
}
`, domain, federation, filepath.Join(d.dir, "kubeconfig"), host, domain, mmdb))
	if err != nil {
		return err
	}
	s, err := startServer("coredns-fed (geo)", filepath.Join(d.dir, "coredns-fed-geo.pid"), filepath.Join(d.dir, "coredns-fed-geo.log"), nil,
		"coredns-fed", "-conf", conf, "-dns.port", strconv.Itoa(d.geoPort))
	if err != nil {
		return err
	}
	d.servers = append(d.servers, s)
	if err := awaitAnswer(s, addr, app, dns.TypeA); err != nil {
		return err
	}

	step("The same name from clients in three cities (EDNS Client Subnet): each gets its nearest cluster")
	for _, c := range []struct{ city, subnet, want string }{
		{"Tokyo", "192.0.2.0/24", "jpn"},
		{"Dublin", "198.51.100.0/24", "eur"},
		{"Ashburn", "203.0.113.0/24", "usa"},
	} {
		out, err := d.query(addr, "-wait", "30s", "-with", d.lb[c.want], "-ecs", c.subnet, app)
		if err != nil {
			return fmt.Errorf("a client in %s did not get %s's address %s: %w", c.city, c.want, d.lb[c.want], err)
		}
		fmt.Printf("a client in %s (%s) gets: %s\n", c.city, c.subnet, strings.Join(d.clustersOf(out), " "))
	}
	return nil
}

// clustersOf names the clusters whose app addresses dnsq printed.
func (d *demo) clustersOf(out string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 5 && f[3] == "A" {
			for ctx, addr := range d.lb {
				if addr == f[4] {
					got = append(got, ctx)
				}
			}
		}
	}
	if len(got) == 0 {
		return []string{"nothing"}
	}
	return got
}
