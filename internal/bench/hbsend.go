package bench

import (
	"context"
	"sync"
	"time"

	"github.com/tashi-go/tashi/api"
)

// hbRun is the heartbeat figure's state and results.
type hbRun struct {
	sz        sizes
	hosts     []simHost
	nm        *api.Client
	cmPID, pm int
	next      int // the host the next slot goes to: runs continue the round-robin

	hostsTook, setupTook time.Duration
	cold                 paced         // the first round, until the CM absorbed it
	absorbed             time.Duration // from the first round's start until absorbed
	settled              bool          // false: gave up waiting
	steady               paced         // the measured window
}

func (r *hbRun) interval() time.Duration { return r.sz.hbPeriod / time.Duration(len(r.hosts)) }
func (r *hbRun) offered() float64        { return float64(len(r.hosts)) / r.sz.hbPeriod.Seconds() }

// paced is heartbeats sent on a schedule, and the CPU used meanwhile.
type paced struct {
	sent, errs int
	firstErr   error
	lat        []time.Duration
	maxLag     time.Duration // worst start behind schedule
	cpu        cpuUse
}

func (p paced) rate() float64 { return float64(p.sent-p.errs) / p.cpu.wall.Seconds() }

func (p *paced) merge(q paced) {
	p.sent += q.sent
	p.errs += q.errs
	p.firstErr = cmpErr(p.firstErr, q.firstErr)
	p.lat = append(p.lat, q.lat...)
	p.maxLag = max(p.maxLag, q.maxLag)
}

// measure runs fn and reads the CM's and PostgreSQL's CPU around it.
func (r *hbRun) measure(ctx context.Context, fn func() paced) (paced, error) {
	before, err := readCPU(r.cmPID, r.pm)
	if err != nil {
		return paced{}, err
	}
	p := fn()
	after, err := readCPU(r.cmPID, r.pm)
	p.cpu = before.to(after)
	if err == nil {
		err = ctx.Err()
	}
	return p, err
}

// send sends total heartbeats, slot j at start + j*every, from hbWorkers
// goroutines (worker w takes slots w, w+W, ...), the hosts in turn.
func (r *hbRun) send(ctx context.Context, every time.Duration, total int) paced {
	var p paced
	start := time.Now().Add(10 * time.Millisecond)
	first := r.next
	r.next = (r.next + total) % len(r.hosts)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range r.sz.hbWorkers {
		wg.Go(func() {
			part := r.sendSlots(ctx, start, every, first, w, total)
			mu.Lock()
			defer mu.Unlock()
			p.merge(part)
		})
	}
	wg.Wait()
	return p
}

func (r *hbRun) sendSlots(ctx context.Context, start time.Time, every time.Duration, first, w, total int) paced {
	var p paced
	for j := w; j < total && ctx.Err() == nil; j += r.sz.hbWorkers {
		due := start.Add(time.Duration(j) * every)
		time.Sleep(time.Until(due))
		t0 := time.Now()
		p.maxLag = max(p.maxLag, t0.Sub(due))
		err := r.nm.SendHeartbeat(ctx, r.hosts[(first+j)%len(r.hosts)].hb)
		p.lat = append(p.lat, time.Since(t0))
		p.sent++
		if err != nil {
			p.errs++
			p.firstErr = cmpErr(p.firstErr, err)
		}
	}
	return p
}
