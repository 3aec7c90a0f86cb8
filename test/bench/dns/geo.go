package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/miekg/dns"

	"github.com/kfed-dev/kfed/test/geodb"
	"github.com/kfed-dev/kfed/test/lab"
)

// The geo server's clients are all in Tokyo: every query to it carries the
// EDNS Client Subnet option for 192.0.2.0/24, which the city database of
// test/geodb places there, so each answer is the nearest member's address.
var (
	geoECS     = &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0).To4()}
	geoNearest = "jpn"
)

// dnsperfECS returns dnsperf's -E value for an ECS option: its code, and
// its data in hex as RFC 7871 lays it out: the family (2 bytes), the source
// and scope prefix lengths (1 byte each), and as many bytes of the address
// as the source prefix covers.
func dnsperfECS(e *dns.EDNS0_SUBNET) (string, error) {
	addr := e.Address.To4()
	if e.Family == 2 {
		addr = e.Address.To16()
	}
	n := (int(e.SourceNetmask) + 7) / 8
	if addr == nil || n > len(addr) {
		return "", fmt.Errorf("ECS %s/%d: not an address of family %d", e.Address, e.SourceNetmask, e.Family)
	}
	data := []byte{byte(e.Family >> 8), byte(e.Family), e.SourceNetmask, e.SourceScope}
	data = append(data, addr[:n]...)
	return fmt.Sprintf("%d:%s", dns.EDNS0SUBNET, hex.EncodeToString(data)), nil
}

// startGeoBench writes the city database, starts the geo server and waits
// until it answers every bulk name, asked from Tokyo, with the nearest
// member's address.
func (b *bench) startGeoBench() (*server, error) {
	bk := b.bulk
	mmdb := filepath.Join(b.dir, "geo.mmdb")
	if err := geodb.Write(mmdb, geodb.Lab()); err != nil {
		return nil, err
	}
	var nearest *lab.Cluster
	for _, c := range b.lab.Clusters {
		if c.Name == geoNearest {
			nearest = c
		}
	}
	if nearest == nil {
		return nil, fmt.Errorf("the lab has no cluster %s, nearest to Tokyo", geoNearest)
	}
	want := map[string][]string{}
	for i, name := range bk.names {
		want[name] = []string{bulkAddr(nearest.LoadBalancerPool, i).String()}
	}
	geo, err := b.startGeo(mmdb)
	if err != nil {
		return nil, err
	}
	if err := geo.waitReady(2 * time.Minute); err != nil {
		geo.stop()
		return nil, err
	}
	if err := poll(2*time.Minute, func() (bool, error) { return bk.checkAnswersOf(geo, want, geoECS) == nil, nil }); err != nil {
		err := bk.checkAnswersOf(geo, want, geoECS)
		geo.stop()
		return nil, fmt.Errorf("coredns-fed (geo) does not answer every Service from Tokyo with %s's address: %v", geoNearest, err)
	}
	return geo, nil
}
