package dnsserver

import "time"

// rebuild brings the index up to date with what changed in the caches and
// the probes since the last pass, and publishes it once the first sync is
// done. Nothing is published while the federation's serial is unknown:
// every server must give the same.
func (c *controller) rebuild(st hostState, known bool) {
	start := time.Now()
	for _, e := range c.members {
		c.syncMember(e)
	}
	c.probesChanged()
	for name, e := range c.members {
		if e.known {
			entryPoints.WithLabelValues(c.server, name).Set(float64(e.total))
			healthyEntryPoints.WithLabelValues(c.server, name).Set(float64(e.healthy))
		}
	}
	if !known || st.serial == 0 {
		return
	}
	idx := c.builder.build(st.serial)
	c.rebuilds.Add(1)
	rebuildDuration.WithLabelValues(c.server).Observe(time.Since(start).Seconds())

	if c.ready {
		c.publish(idx)
		return
	}
	if !c.settled() {
		return
	}
	c.ready = true
	c.publish(idx)
	from := "the host"
	if !c.host.synced() {
		from = "the snapshot " + c.opts.Snapshot + " (the host does not answer)"
	}
	nKnown := 0
	for _, e := range c.members {
		if e.known {
			nKnown++
		}
	}
	log.Infof("Synced federation %s in %s from %s: %d of %d clusters known, %d services, serial %d",
		c.federation, time.Since(c.started).Round(time.Millisecond), from, nKnown, len(c.members), idx.Len(), st.serial)
	close(c.synced)
}

// settled reports whether the first sync is done: the host's caches are
// full, every member has synced or failed, and every entry point has been
// probed once. A snapshot stands for the host once the host has failed.
// After the startup timeout, only the host's state is waited for.
func (c *controller) settled() bool {
	late := time.Since(c.started) > c.opts.StartupTimeout
	if !c.host.synced() && !c.host.failing.Load() && !late {
		return false
	}
	if late {
		return true
	}
	for _, e := range c.members {
		if e.current != nil && !e.current.settled(c.opts.StartupTimeout) {
			return false
		}
	}
	return c.prober.Pending() == 0
}
