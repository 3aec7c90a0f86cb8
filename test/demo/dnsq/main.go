// Command dnsq asks a DNS server for names and prints the answers, one
// record a line as dig prints them. The demo uses it, since dig is not on
// every machine.
//
//	dnsq [-s 127.0.0.1:1053] [-t A] [-tcp] [-dnssec] [-ecs SUBNET] [-wait 60s] [-without ADDR | -with ADDR] NAME...
//
// -ecs sends an EDNS Client Subnet option (RFC 7871) for SUBNET, such as
// 192.0.2.0/24, and shows the ECS option of each reply.
//
// -wait asks again, every 100 ms, until every name has an answer (or,
// with -without or -with, until the answers lack or hold ADDR), and fails
// if that takes longer.
package main

import (
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("s", "127.0.0.1:1053", "the server, ADDRESS:PORT")
	qtype := flag.String("t", "A", "the record type to ask for")
	tcp := flag.Bool("tcp", false, "ask over TCP instead of UDP")
	wait := flag.Duration("wait", 0, "ask again until the answer has records (or meets -with/-without), for at most this long")
	without := flag.String("without", "", "with -wait: until no answer holds this address")
	with := flag.String("with", "", "with -wait: until every answer holds this address")
	ecs := flag.String("ecs", "", "send an EDNS Client Subnet option for this subnet, such as 192.0.2.0/24")
	dnssecOK := flag.Bool("dnssec", false, "set the DO bit: ask for signatures, and for a validating resolver's AD bit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: dnsq [-s ADDRESS:PORT] [-t TYPE] [-tcp] [-dnssec] [-ecs SUBNET] [-wait DURATION [-with|-without ADDRESS]] NAME...")
		flag.PrintDefaults()
	}
	flag.Parse()
	t, ok := dns.StringToType[strings.ToUpper(*qtype)]
	if !ok || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var subnet *dns.EDNS0_SUBNET
	if *ecs != "" {
		var err error
		if subnet, err = clientSubnet(*ecs); err != nil {
			fmt.Fprintln(os.Stderr, "error: -ecs:", err)
			os.Exit(2)
		}
	}
	proto := "udp"
	if *tcp {
		proto = "tcp"
	}
	c := &dns.Client{Net: proto, Timeout: 2 * time.Second}

	begin := time.Now()
	for {
		replies, err := ask(c, *server, flag.Args(), t, subnet, *dnssecOK)
		done := err == nil && wanted(replies, *with, *without)
		if done || *wait == 0 || time.Since(begin) > *wait {
			if err != nil {
				fmt.Fprintln(os.Stderr, "error:", err)
				os.Exit(1)
			}
			for _, r := range replies {
				show(r)
			}
			if *wait == 0 {
				return
			}
			if !done {
				fmt.Fprintf(os.Stderr, "error: the answers did not change as asked within %s\n", *wait)
				os.Exit(1)
			}
			if *with != "" || *without != "" {
				fmt.Printf(";; changed after %s\n", time.Since(begin).Round(10*time.Millisecond))
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// clientSubnet returns the ECS option for a subnet such as 192.0.2.0/24.
func clientSubnet(s string) (*dns.EDNS0_SUBNET, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, err
	}
	p = p.Masked()
	family := uint16(1)
	if !p.Addr().Is4() {
		family = 2
	}
	return &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        family,
		SourceNetmask: uint8(p.Bits()),
		Address:       p.Addr().AsSlice(),
	}, nil
}

func ask(c *dns.Client, server string, names []string, qtype uint16, subnet *dns.EDNS0_SUBNET, do bool) ([]*dns.Msg, error) {
	var replies []*dns.Msg
	for _, name := range names {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		m.SetEdns0(1232, do)
		if subnet != nil {
			opt := m.IsEdns0()
			opt.Option = append(opt.Option, subnet)
		}
		r, _, err := c.Exchange(m, server)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		replies = append(replies, r)
	}
	return replies, nil
}

// wanted reports whether every reply has records, holds with (if set) and
// lacks without (if set).
func wanted(replies []*dns.Msg, with, without string) bool {
	for _, r := range replies {
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			return false
		}
		has := func(addr string) bool {
			for _, rr := range r.Answer {
				switch rr := rr.(type) {
				case *dns.A:
					if rr.A.String() == addr {
						return true
					}
				case *dns.AAAA:
					if rr.AAAA.String() == addr {
						return true
					}
				}
			}
			return false
		}
		if with != "" && !has(with) || without != "" && has(without) {
			return false
		}
	}
	return true
}

// show writes a reply as dig +noall +answer does, after a status line.
func show(r *dns.Msg) {
	flags := ""
	if r.Authoritative {
		flags = ", authoritative"
	}
	if r.AuthenticatedData {
		flags += ", validated (AD)"
	}
	fmt.Printf(";; %s %s: %s%s, %d answers\n", r.Question[0].Name, dns.TypeToString[r.Question[0].Qtype], dns.RcodeToString[r.Rcode], flags, len(r.Answer))
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				fmt.Printf(";; client subnet %s/%d, scope /%d\n", e.Address, e.SourceNetmask, e.SourceScope)
			}
		}
	}
	for _, rr := range r.Answer {
		fmt.Println(rr.String())
	}
}
