package dnsserver

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// What the index holds of each member is kept between passes, Service by
// Service, so that a pass reads again only the Services that its watch's
// events or the probes' results touched. A member is read in full only
// when a new watch of it has synced, or it comes from the snapshot, or it
// goes.

// memberServed is one served Service of a member as the index holds it.
type memberServed struct {
	served servedService
	// targets are the probe targets its entry points use.
	targets []probeTarget
	// total and healthy count its entry points, for the metrics.
	total, healthy int
}

// syncMember brings a member's part of the index up to date with its
// watch: all of it when the watch is new and has synced, else the
// Services its events touched.
func (c *controller) syncMember(e *memberEntry) {
	w := e.current
	switch {
	case w == nil || !w.synced():
		// A partial cache would answer partially: what was known stays
		// until the watch has listed everything.
	case e.source != w:
		w.takeDirty()
		c.replaceServices(e, w.servedServices())
		e.source = w
	default:
		for key := range w.takeDirty() {
			if s, ok := w.servedService(key); ok {
				c.setServed(e, key, &s)
			} else {
				c.setServed(e, key, nil)
			}
		}
	}
	if e.known {
		c.builder.setCluster(e.cluster)
	}
}

// replaceServices makes list what a member serves, from a watch that has
// just synced or from the snapshot; nil forgets the member.
func (c *controller) replaceServices(e *memberEntry, list []servedService) {
	if list == nil {
		for key := range e.served {
			c.setServed(e, key, nil)
		}
		if e.known {
			c.builder.removeCluster(e.cluster.Name)
		}
		e.known, e.source = false, nil
		return
	}
	if !e.known {
		e.known = true
		c.builder.setCluster(e.cluster)
	}
	keep := make(map[string]bool, len(list))
	for i := range list {
		key := list[i].Service.key()
		keep[key] = true
		c.setServed(e, key, &list[i])
	}
	for key := range e.served {
		if !keep[key] {
			c.setServed(e, key, nil)
		}
	}
}

// setServed sets one served Service of a member, by namespace/name, or
// forgets it (nil): its entry points' health, their probes and its place
// in the index.
func (c *controller) setServed(e *memberEntry, key string, s *servedService) {
	name := e.cluster.Name
	old := e.served[key]
	if old != nil {
		e.total -= old.total
		e.healthy -= old.healthy
	}
	if s == nil {
		if old == nil {
			return
		}
		delete(e.served, key)
		c.unuseTargets(old.targets, key)
		ns, svcName, _ := strings.Cut(key, "/")
		c.builder.removeService(name, ns, svcName)
		return
	}
	entry := &memberServed{served: *s}
	ms := memberService(s.Service, c.opts.ExternalIPs)
	ms.Ready = s.Ready
	for i := range ms.EntryPoints {
		ep := &ms.EntryPoints[i]
		ep.Healthy = s.Ready
		if t, ok := probeFor(name, s.Service, *ep); ok {
			entry.targets = append(entry.targets, t)
			c.useTarget(t, key)
			up, _ := c.prober.Status(t)
			ep.Healthy = s.Ready && up
		}
		entry.total++
		if ep.Healthy {
			entry.healthy++
		}
	}
	// The new targets are counted before the old ones are let go, so that
	// a probe the Service keeps is not stopped and started again.
	if old != nil {
		c.unuseTargets(old.targets, key)
	}
	e.served[key] = entry
	e.total += entry.total
	e.healthy += entry.healthy
	if e.known {
		c.builder.setService(name, &ms)
	}
}

// useTarget records that a Service (namespace/name) of the target's member
// uses the target.
func (c *controller) useTarget(t probeTarget, key string) {
	users := c.targetUsers[t]
	if users == nil {
		users = map[string]int{}
		c.targetUsers[t] = users
	}
	users[key]++
	c.prober.Add(t)
}

func (c *controller) unuseTargets(targets []probeTarget, key string) {
	for _, t := range targets {
		users := c.targetUsers[t]
		if users[key]--; users[key] <= 0 {
			delete(users, key)
		}
		if len(users) == 0 {
			delete(c.targetUsers, t)
		}
		c.prober.Remove(t)
	}
}

// probesChanged reads again the Services whose probes changed state.
func (c *controller) probesChanged() {
	for _, t := range c.prober.Changed() {
		e := c.members[t.Cluster]
		if e == nil {
			continue
		}
		// A copy: setServed counts the users again.
		for _, key := range slices.Collect(maps.Keys(c.targetUsers[t])) {
			if old := e.served[key]; old != nil {
				s := old.served
				c.setServed(e, key, &s)
			}
		}
	}
}

// servedList returns what a member serves, sorted by namespace and name,
// for the snapshot; never nil, since an empty list is known to be empty.
func (e *memberEntry) servedList() []servedService {
	out := make([]servedService, 0, len(e.served))
	for _, s := range e.served {
		out = append(out, s.served)
	}
	slices.SortFunc(out, func(a, b servedService) int {
		return cmp.Or(cmp.Compare(a.Service.namespace, b.Service.namespace), cmp.Compare(a.Service.name, b.Service.name))
	})
	return out
}
