package dnsserver

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// The prober's schedule: one goroutine hands due probes, earliest first, to
// a fixed pool of workers, so that 50,000 endpoints cost a heap of 50,000
// entries and no goroutine or timer each.

// confirmFraction of the interval passes before a result that contradicts
// an endpoint's state is checked again, at least minConfirm: a dead load
// balancer is then down one interval and a moment after its first failed
// probe, not two intervals, while one lost packet still does not take it
// down.
const (
	confirmFraction = 10
	minConfirm      = 50 * time.Millisecond
)

// start starts the scheduler and the workers.
func (p *prober) start() {
	work := make(chan *probe)
	p.wg.Add(1 + p.workers)
	go func() {
		defer p.wg.Done()
		p.schedule(work)
	}()
	for range p.workers {
		go func() {
			defer p.wg.Done()
			p.work(work)
		}()
	}
}

// wake tells the scheduler to look at the queue again; it never blocks.
func (p *prober) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// schedule hands each probe to a worker when it is due. A send waits for a
// free worker: that is the bound on probes in flight.
func (p *prober) schedule(work chan<- *probe) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		p.mu.Lock()
		var due *probe
		wait := time.Hour
		if len(p.queue) > 0 {
			if d := time.Until(p.queue[0].next); d <= 0 {
				due = heap.Pop(&p.queue).(*probe)
			} else {
				wait = d
			}
		}
		p.mu.Unlock()
		if due != nil {
			select {
			case work <- due:
			case <-p.ctx.Done():
				return
			}
			continue
		}
		timer.Reset(wait)
		select {
		case <-p.ctx.Done():
			return
		case <-p.kick:
		case <-timer.C:
		}
	}
}

// work runs the probes it is handed, records each result and puts the
// probe back in the queue for its next turn.
func (p *prober) work(work <-chan *probe) {
	for {
		var pr *probe
		select {
		case <-p.ctx.Done():
			return
		case pr = <-work:
		}
		start := time.Now()
		err := p.check(p.ctx, pr.endpoint)
		if p.ctx.Err() != nil {
			// Stopped mid-probe: the failure is ours, not the target's.
			return
		}
		took := time.Since(start)
		p.mu.Lock()
		if pr.removed {
			p.mu.Unlock()
			continue
		}
		label := pr.label
		changed := p.recordLocked(pr, err, took)
		if changed {
			p.changed[pr.endpoint] = struct{}{}
		}
		// The schedule runs from each probe's start, so that a slow
		// failure does not stretch the time to detect it.
		pr.next = start.Add(p.delayLocked(pr, err))
		p.queue.push(pr)
		// The scheduler sleeps until the head is due: it needs waking
		// only when this probe is the new head, rarely once many run.
		head := p.queue[0] == pr
		p.mu.Unlock()
		if head {
			p.wake()
		}

		probeDuration.WithLabelValues(p.server, label, pr.endpoint.Type).Observe(took.Seconds())
		if err != nil {
			probeFailures.WithLabelValues(p.server, label, pr.endpoint.Type).Inc()
		}
		if changed {
			p.onChange()
		}
	}
}

// delayLocked returns the time from a probe's start to the next: soon when
// its result is on the way to changing the endpoint's state, else the
// interval, stretched so that all the endpoints together are probed at
// most rate times a second, and jittered so that probes started together
// do not stay in step.
func (p *prober) delayLocked(pr *probe, err error) time.Duration {
	interval := p.intervalLocked()
	if (err != nil && pr.up && pr.failures > 0) || (err == nil && !pr.up && pr.successes > 0) {
		return max(minConfirm, interval/confirmFraction)
	}
	f := 1 + probeJitter*(2*rand.Float64()-1)
	return time.Duration(float64(interval) * f)
}

// intervalLocked is the interval between two probes of an endpoint: the
// configured one, or longer when the endpoints are more than the rate
// allows in it.
func (p *prober) intervalLocked() time.Duration {
	if p.rate <= 0 {
		return p.interval
	}
	return max(p.interval, time.Duration(len(p.probes))*time.Second/time.Duration(p.rate))
}

// check probes an endpoint once.
func (p *prober) check(ctx context.Context, e probeEndpoint) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	addr := net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
	if e.Type == probeTCP {
		conn, err := p.dialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		// A reset instead of a FIN handshake: half the packets, and no
		// socket left in TIME_WAIT for each of thousands of probes a
		// second.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Type+"://"+addr+e.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "coredns-fed")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	return nil
}

// probeQueue is a heap of probes by when they are due.
type probeQueue []*probe

func (q probeQueue) Len() int           { return len(q) }
func (q probeQueue) Less(i, j int) bool { return q[i].next.Before(q[j].next) }
func (q probeQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}

// Push and Pop are heap.Interface's; push and remove are the prober's.
func (q *probeQueue) Push(x any) {
	pr := x.(*probe)
	pr.index = len(*q)
	*q = append(*q, pr)
}

func (q *probeQueue) Pop() any {
	old := *q
	pr := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	pr.index = -1
	return pr
}

func (q *probeQueue) push(pr *probe) { heap.Push(q, pr) }

// remove takes a probe out of the queue, if it is in it.
func (q *probeQueue) remove(pr *probe) {
	if pr.index >= 0 && pr.index < len(*q) && (*q)[pr.index] == pr {
		heap.Remove(q, pr.index)
	}
}
