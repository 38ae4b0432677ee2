package agenttest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/tashi-go/tashi/api"
)

// Size is what an instance holds on a host.
type Size struct{ Cores, Memory int }

// event is one row of the record's event log.
type event struct {
	id       int64
	at       time.Time
	instance *int64
	host     *int64
	kind     string
	detail   map[string]any
}

// CheckHistory replays the record's event log in id order and returns
// every committed step at which an instance was placed on (or sent for
// migration to) a host that was not Normal, or surely down (its node
// manager stopped, by Host.Stop, for longer than expireHostTime before
// the step's transaction began), or that the step left over its cores or
// memory. sizes gives each instance's cores and memory
// (exited instances are gone from the record; the test knows what it
// created).
//
// Why id order is sound: a placement or migration locks the host row
// before it checks room and logs its event, and so does setHostState, so
// their events are in the order they took effect; an instance that
// leaves a host logs its event before it commits, so the replay frees
// room no later than the CM did and can only under-count usage.
func (c *Cluster) CheckHistory(ctx context.Context, sizes map[int64]Size) ([]string, error) {
	evs, err := c.events(ctx)
	if err != nil {
		return nil, err
	}
	caps := map[int64]Size{}
	for _, h := range c.Hosts() {
		caps[h.ID] = Size{h.Cores, h.Memory}
	}
	r := replay{caps: caps, sizes: sizes, state: map[int64]api.HostState{},
		on: map[int64]int64{}, target: map[int64]int64{}, used: map[int64]Size{},
		down: func(host int64, at time.Time) bool {
			h := c.HostByID(host)
			return h != nil && h.surelyDown(at, c.opts.ExpireHost)
		}}
	for _, e := range evs {
		r.apply(e)
	}
	return r.bad, nil
}

func (c *Cluster) events(ctx context.Context) ([]event, error) {
	rows, err := c.CM.Store.Pool().Query(ctx, `SELECT id, at, instance_id, host_id, kind, detail FROM events ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read the event log: %w", err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.id, &e.at, &e.instance, &e.host, &e.kind, &e.detail); err != nil {
			return nil, fmt.Errorf("read the event log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// replay is the record rebuilt from the event log.
type replay struct {
	caps   map[int64]Size
	sizes  map[int64]Size
	state  map[int64]api.HostState // hosts; missing = Normal
	on     map[int64]int64         // instance -> host
	target map[int64]int64         // instance -> migration target
	used   map[int64]Size          // host -> held
	down   func(host int64, at time.Time) bool
	bad    []string
}

func (r *replay) apply(e event) {
	str := func(k string) string { s, _ := e.detail[k].(string); return s }
	switch {
	case e.kind == "setHostState" && e.host != nil:
		r.state[*e.host] = api.HostState(str("to"))
		return
	case e.kind == "register" && e.host != nil:
		r.state[*e.host] = api.HostState(str("state"))
		return
	case e.instance == nil || str("to") == "":
		return
	}
	id, to := *e.instance, api.InstanceState(str("to"))
	switch e.kind {
	case "place":
		r.move(id, e.host)
		r.check(e, *e.host, "placed")
		return
	case "migrate":
		if t, ok := e.detail["target"].(float64); ok {
			r.setTarget(id, int64(t))
			r.check(e, int64(t), "sent for migration")
		}
		return
	}
	if slices.Contains(hostless, to) || to == api.Exited {
		r.move(id, nil)
	} else if e.host != nil {
		r.move(id, e.host)
	}
	if to != api.MigratePrep && to != api.MigrateTrans {
		r.setTarget(id, 0) // (a CM that keeps the target while Destroying holds more: the replay under-counts)
	}
}

func (r *replay) add(host int64, id int64, sign int) {
	s, u := r.sizes[id], r.used[host]
	u.Cores += sign * s.Cores
	u.Memory += sign * s.Memory
	r.used[host] = u
}

func (r *replay) move(id int64, host *int64) {
	if old, ok := r.on[id]; ok {
		r.add(old, id, -1)
		delete(r.on, id)
	}
	if host != nil {
		r.on[id] = *host
		r.add(*host, id, +1)
	}
}

func (r *replay) setTarget(id, host int64) {
	if old, ok := r.target[id]; ok {
		r.add(old, id, -1)
		delete(r.target, id)
	}
	if host != 0 {
		r.target[id] = host
		r.add(host, id, +1)
	}
}

func (r *replay) check(e event, host int64, what string) {
	if _, known := r.sizes[*e.instance]; !known {
		r.bad = append(r.bad, fmt.Sprintf("event %d: instance %d %s on host %d: the test does not know its size", e.id, *e.instance, what, host))
	}
	if r.down(host, e.at) {
		r.bad = append(r.bad, fmt.Sprintf("event %d: instance %d %s on host %d, whose node manager had been stopped for longer than expireHostTime", e.id, *e.instance, what, host))
	}
	if st := r.state[host]; st != "" && st != api.HostNormal {
		r.bad = append(r.bad, fmt.Sprintf("event %d: instance %d %s on host %d while it was %s", e.id, *e.instance, what, host, st))
	}
	u, c := r.used[host], r.caps[host]
	if u.Cores > c.Cores || u.Memory > c.Memory {
		r.bad = append(r.bad, fmt.Sprintf("event %d: instance %d %s on host %d, which then held %d/%d cores and %d/%d MiB",
			e.id, *e.instance, what, host, u.Cores, c.Cores, u.Memory, c.Memory))
	}
}

// EventLog returns the record's event log of one instance (it outlives
// the instance), one line per event, for failure messages.
func (c *Cluster) EventLog(ctx context.Context, instance int64) []string {
	rows, err := c.CM.Store.Pool().Query(ctx, `SELECT id, at, actor, kind, host_id, detail FROM events
		WHERE instance_id = $1 ORDER BY id`, instance)
	if err != nil {
		return []string{err.Error()}
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var at time.Time
		var actor, kind string
		var host *int64
		var detail map[string]any
		if err := rows.Scan(&id, &at, &actor, &kind, &host, &detail); err != nil {
			return append(out, err.Error())
		}
		out = append(out, fmt.Sprintf("%d %s %s %s host=%v %v", id, at.Format("15:04:05.000"), actor, kind, deref(host), detail))
	}
	return out
}
