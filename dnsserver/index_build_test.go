package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
)

// buildMembers is a few members with n Services each, in two namespaces.
func buildMembers(n int) []Member {
	var members []Member
	for i, name := range []string{"usa", "eur", "jpn"} {
		m := Member{Cluster: Cluster{Name: name, Region: "r" + name, Zone: "z" + name}}
		for j := range n {
			m.Services = append(m.Services, MemberService{
				Namespace:   fmt.Sprintf("ns%d", j%2),
				Name:        fmt.Sprintf("s%d", j),
				Ports:       []Port{{Name: "http", Protocol: "tcp", Port: 80}},
				EntryPoints: []EntryPoint{{Addr: netip.AddrFrom4([4]byte{127, byte(i), byte(j >> 8), byte(j)}), Healthy: j%3 != 0}},
			})
		}
		members = append(members, m)
	}
	return members
}

// builderOf returns a builder fed with members.
func builderOf(members []Member) *indexBuilder {
	b := newIndexBuilder()
	for i := range members {
		b.setCluster(members[i].Cluster)
		for j := range members[i].Services {
			b.setService(members[i].Name, &members[i].Services[j])
		}
	}
	return b
}

// sameIndex fails unless two indexes answer the same.
func sameIndex(t *testing.T, got, want *Index) {
	t.Helper()
	if got.Len() != want.Len() || got.Serial() != want.Serial() {
		t.Fatalf("%d services serial %d, want %d serial %d", got.Len(), got.Serial(), want.Len(), want.Serial())
	}
	if !reflect.DeepEqual(got.namespaces, want.namespaces) || !reflect.DeepEqual(got.regions, want.regions) ||
		!reflect.DeepEqual(got.clusters, want.clusters) {
		t.Fatalf("namespaces %v regions %v clusters %v, want %v %v %v",
			got.namespaces, got.regions, got.clusters, want.namespaces, want.regions, want.clusters)
	}
	for s := range want.shards {
		for key, svc := range want.shards[s] {
			if g := got.Service(key.namespace, key.name); !reflect.DeepEqual(g, svc) {
				t.Fatalf("%v: got %+v, want %+v", key, g, svc)
			}
		}
	}
}

// TestIndexBuilderIncremental: an index made change by change answers as
// one built from scratch from the same members.
func TestIndexBuilderIncremental(t *testing.T) {
	members := buildMembers(300)
	b := builderOf(members)
	b.build(1)
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 500 {
		m := &members[rng.IntN(len(members))]
		j := rng.IntN(len(m.Services))
		switch rng.IntN(4) {
		case 0: // a Service goes
			ms := m.Services[j]
			m.Services = append(m.Services[:j], m.Services[j+1:]...)
			b.removeService(m.Name, ms.Namespace, ms.Name)
		case 1: // a Service comes
			ms := MemberService{Namespace: "new", Name: fmt.Sprintf("n%d", step), EntryPoints: []EntryPoint{{Hostname: "LB.Example.", Healthy: true}}}
			m.Services = append(m.Services, ms)
			b.setService(m.Name, &ms)
		default: // health flips
			ms := &m.Services[j]
			ms.EntryPoints[0].Healthy = !ms.EntryPoints[0].Healthy
			b.setService(m.Name, ms)
		}
		if step%50 == 0 {
			sameIndex(t, b.build(2), BuildIndex(members, 2))
		}
	}
	// A member moves, and one leaves.
	members[0].Region, members[0].Zone = "elsewhere", "Z9"
	b.setCluster(members[0].Cluster)
	b.removeCluster(members[2].Name)
	sameIndex(t, b.build(3), BuildIndex(members[:2], 3))
}

// TestIndexBuilderCopiesOnlyWhatChanged: a change copies the shard of the
// Service it touches and nothing else, and a build without a change is the
// same index.
func TestIndexBuilderCopiesOnlyWhatChanged(t *testing.T) {
	members := buildMembers(2000)
	b := builderOf(members)
	first := b.build(1)
	if b.build(1) != first {
		t.Fatal("a build without a change made a new index")
	}
	ms := members[1].Services[7]
	ms.EntryPoints = []EntryPoint{{Addr: netip.MustParseAddr("127.9.9.9"), Healthy: true}}
	b.setService("eur", &ms)
	next := b.build(1)
	changed := shardOf(ms.Namespace, ms.Name)
	for s := range next.shards {
		same := reflect.ValueOf(next.shards[s]).Pointer() == reflect.ValueOf(first.shards[s]).Pointer()
		if same == (s == changed) {
			t.Errorf("shard %d: shared %v after a change to shard %d", s, same, changed)
		}
	}
	if reflect.ValueOf(next.clusters).Pointer() != reflect.ValueOf(first.clusters).Pointer() {
		t.Error("the members were copied though none changed")
	}
	got := next.Service(ms.Namespace, ms.Name).Cluster("eur").EntryPoints[0].Addr
	if old := first.Service(ms.Namespace, ms.Name).Cluster("eur").EntryPoints[0].Addr; got == old {
		t.Errorf("the change did not show: %s", got)
	}
	if first.Service(ms.Namespace, ms.Name).Cluster("eur").EntryPoints[0].Addr.String() == "127.9.9.9" {
		t.Error("the change showed in the published index")
	}
}

// BenchmarkIndexChange is the cost of one change at 20 members x 2,500
// Services: it must not grow with the zone.
func BenchmarkIndexChange(b *testing.B) {
	bld := newIndexBuilder()
	for c := range 20 {
		name := fmt.Sprintf("c%02d", c)
		bld.setCluster(Cluster{Name: name})
		for j := range 2500 {
			bld.setService(name, &MemberService{Namespace: "bench", Name: fmt.Sprintf("s%04d", j),
				EntryPoints: []EntryPoint{{Addr: netip.AddrFrom4([4]byte{127, byte(c), byte(j >> 8), byte(j)}), Healthy: true}}})
		}
	}
	bld.build(1)
	ms := MemberService{Namespace: "bench", EntryPoints: []EntryPoint{{Addr: netip.MustParseAddr("127.0.0.1")}}}
	for i := 0; b.Loop(); i++ {
		ms.Name = fmt.Sprintf("s%04d", i%2500)
		ms.EntryPoints[0].Healthy = i%2 == 0
		bld.setService(fmt.Sprintf("c%02d", i%20), &ms)
		bld.build(1)
	}
}

// A global name's healthy members come from the Service's mask up to
// maskedClusters members, and from each member's copy beyond: both give
// the healthy members in order, after an incremental rebuild too.
func TestAppendHealthy(t *testing.T) {
	for _, clusters := range []int{3, maskedClusters, maskedClusters + 6} {
		var members []Member
		for c := range clusters {
			members = append(members, Member{
				Cluster: Cluster{Name: fmt.Sprintf("m%02d", c), Region: "r", Zone: "z"},
				Services: []MemberService{{Namespace: "ns", Name: "web",
					EntryPoints: []EntryPoint{{Addr: netip.AddrFrom4([4]byte{127, 0, byte(c >> 8), byte(c)}), Healthy: c%3 != 1}}}},
			})
		}
		b := builderOf(members)
		want := func(svc *Service) []string {
			var out []string
			for _, sc := range svc.Clusters {
				if sc.Healthy {
					out = append(out, sc.Name)
				}
			}
			return out
		}
		got := func(svc *Service) []string {
			var out []string
			for _, sc := range svc.appendHealthy(nil, LevelGlobal, "", "") {
				out = append(out, sc.Name)
			}
			return out
		}
		svc := b.build(1).Service("ns", "web")
		if g, w := got(svc), want(svc); !reflect.DeepEqual(g, w) || len(w) == 0 {
			t.Errorf("%d members: healthy %v, want %v", clusters, g, w)
		}
		// The last member's copy turns healthy, the first's unhealthy.
		members[0].Services[0].EntryPoints[0].Healthy = false
		members[clusters-1].Services[0].EntryPoints[0].Healthy = true
		b.setService(members[0].Name, &members[0].Services[0])
		b.setService(members[clusters-1].Name, &members[clusters-1].Services[0])
		svc = b.build(2).Service("ns", "web")
		if g, w := got(svc), want(svc); !reflect.DeepEqual(g, w) || w[0] == "m00" || w[len(w)-1] != members[clusters-1].Name {
			t.Errorf("%d members, after a rebuild: healthy %v, want %v", clusters, g, w)
		}
	}
}
