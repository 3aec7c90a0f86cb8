package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// knotd, started as the throughput part starts it, serves the zone file
// the bench writes, with every name's addresses.
func TestKnotServesZone(t *testing.T) {
	knotd, err := findKnotd("knotd")
	if err != nil {
		t.Skip(err)
	}
	b := &bench{dir: t.TempDir(), knotd: knotd, opts: options{serverCPU: -1, clientCPU: -1}}
	bk := &bulk{want: map[string][]string{}}
	for i := range 3 {
		name := bulkQName(i)
		bk.names = append(bk.names, name)
		bk.want[name] = []string{fmt.Sprintf("127.0.1.%d", 100+i), fmt.Sprintf("127.0.2.%d", 100+i)}
	}
	zone := filepath.Join(b.dir, "zone")
	if err := bk.writeZone(zone); err != nil {
		t.Fatal(err)
	}
	s, err := b.startKnot(zone)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	if err := s.waitReady(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := bk.checkAnswers(s); err != nil {
		t.Error(err)
	}
}
