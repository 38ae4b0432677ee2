package agenttest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/nodemanager/vmm"
)

// Transitional are the states an agent carries out; an instance in one of
// them is "in flight".
var Transitional = []api.InstanceState{api.Activating, api.Pausing, api.Unpausing, api.Suspending,
	api.Resuming, api.MigratePrep, api.MigrateTrans, api.ShuttingDown, api.Destroying}

// hostless are the states of instances that are on no host.
var hostless = []api.InstanceState{api.Pending, api.Held, api.Suspended}

// CheckSnapshot returns what is wrong in one consistent snapshot of the
// record: a host over its cores or memory (counting instances on it and
// migrations to it), a host whose reported usage differs from the sum of
// its instances, an instance on an unknown host, a hostless state with a
// host (or the reverse), a migration target that is the source or on an
// instance that is not migrating (or being destroyed while migrating).
func CheckSnapshot(snap api.Snapshot) []string {
	var bad []string
	type use struct{ cores, memory int }
	used := map[int64]*use{}
	hosts := map[int64]api.Host{}
	for _, h := range snap.Hosts {
		hosts[h.ID] = h
		used[h.ID] = &use{}
	}
	add := func(in api.Instance, id int64, what string) {
		u := used[id]
		if u == nil {
			bad = append(bad, fmt.Sprintf("instance %d (%s) %s unknown host %d", in.ID, in.Name, what, id))
			return
		}
		u.cores += in.Cores
		u.memory += in.Memory
	}
	for _, in := range snap.Instances {
		switch {
		case slices.Contains(hostless, in.State) && in.HostID != nil:
			bad = append(bad, fmt.Sprintf("instance %d (%s) is %s but on host %d", in.ID, in.Name, in.State, *in.HostID))
		case !slices.Contains(hostless, in.State) && in.State != api.Destroying && in.HostID == nil:
			bad = append(bad, fmt.Sprintf("instance %d (%s) is %s on no host", in.ID, in.Name, in.State))
		}
		if in.HostID != nil {
			add(in, *in.HostID, "is on")
		}
		if in.TargetID != nil {
			add(in, *in.TargetID, "migrates to")
			if in.HostID != nil && *in.HostID == *in.TargetID {
				bad = append(bad, fmt.Sprintf("instance %d (%s) migrates to the host it is on", in.ID, in.Name))
			}
			if in.State != api.MigratePrep && in.State != api.MigrateTrans && in.State != api.Destroying {
				bad = append(bad, fmt.Sprintf("instance %d (%s) is %s with a migration target", in.ID, in.Name, in.State))
			}
		}
	}
	for id, u := range used {
		h := hosts[id]
		if u.cores > h.Cores || u.memory > h.Memory {
			bad = append(bad, fmt.Sprintf("host %s is over capacity: %d/%d cores, %d/%d MiB", h.Name, u.cores, h.Cores, u.memory, h.Memory))
		}
		if u.cores != h.UsedCores || u.memory != h.UsedMemory {
			bad = append(bad, fmt.Sprintf("host %s reports %d cores and %d MiB used; its instances hold %d and %d",
				h.Name, h.UsedCores, h.UsedMemory, u.cores, u.memory))
		}
	}
	sort.Strings(bad)
	return bad
}

// CheckRecord takes a snapshot and checks it with CheckSnapshot.
func (c *Cluster) CheckRecord(ctx context.Context) ([]string, api.Snapshot, error) {
	snap, err := c.Agent.Snapshot(ctx)
	if err != nil {
		return nil, snap, fmt.Errorf("snapshot: %w", err)
	}
	return CheckSnapshot(snap), snap, nil
}

// Guest is one live simulated guest (in any state but Exited).
type Guest struct {
	InstanceID int64
	Host       string
	HostID     int64
	State      vmm.State
	VMID       string
}

// Guests lists the live guests of every simulated host, straight from
// the Sims (whether or not their node managers run).
func (c *Cluster) Guests(ctx context.Context) []Guest {
	var out []Guest
	for _, h := range c.Hosts() {
		l, _ := h.Sim().List(ctx)
		for _, g := range l {
			out = append(out, Guest{InstanceID: g.InstanceID, Host: h.Name, HostID: h.ID, State: g.State, VMID: g.VMID})
		}
	}
	return out
}

// CheckGuests compares the record with the simulated guests. Every
// Running or Paused instance runs exactly once, on its recorded host, in
// its recorded state; a Pending, Held or Suspended instance runs nowhere;
// no guest runs that the record does not have there. Instances in
// transitional states (their guests are in flight) and Orphaned ones
// (their host is down) are not checked.
func CheckGuests(snap api.Snapshot, guests []Guest) []string {
	var bad []string
	where := map[int64][]Guest{}
	for _, g := range guests {
		where[g.InstanceID] = append(where[g.InstanceID], g)
	}
	recorded := map[int64]api.Instance{}
	for _, in := range snap.Instances {
		recorded[in.ID] = in
		gs := where[in.ID]
		switch {
		case slices.Contains(Transitional, in.State), in.State == api.Orphaned: // in flight, or its host is down
		case in.State == api.Running || in.State == api.Paused:
			if len(gs) != 1 {
				bad = append(bad, fmt.Sprintf("instance %d (%s) is %s in the record and runs on %d hosts: %v", in.ID, in.Name, in.State, len(gs), gs))
				continue
			}
			g := gs[0]
			if in.HostID == nil || g.HostID != *in.HostID || string(g.State) != string(in.State) {
				bad = append(bad, fmt.Sprintf("instance %d (%s) is %s on host %v in the record, %s on %s in fact", in.ID, in.Name, in.State, deref(in.HostID), g.State, g.Host))
			}
		case len(gs) > 0:
			bad = append(bad, fmt.Sprintf("instance %d (%s) is %s in the record but runs: %v", in.ID, in.Name, in.State, gs))
		}
	}
	for _, g := range guests {
		if _, ok := recorded[g.InstanceID]; !ok {
			bad = append(bad, fmt.Sprintf("guest of instance %d runs on %s (%s) but the record has no such instance", g.InstanceID, g.Host, g.State))
		}
	}
	sort.Strings(bad)
	return bad
}

func deref(p *int64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// Settle waits up to limit until no instance is in flight and nothing in
// the record changed for quiet, then until the guests agree with the
// record. It returns the last snapshot and what still disagrees.
func (c *Cluster) Settle(ctx context.Context, limit, quiet time.Duration) (api.Snapshot, []string) {
	return c.SettleWith(ctx, limit, quiet, nil)
}

// GuestFilter drops guests a test tolerates (a known bug's leftovers)
// before they are compared with the record.
type GuestFilter func(api.Snapshot, []Guest) []Guest

// SettleWith is Settle with the guests passed through keep (nil keeps
// all of them).
func (c *Cluster) SettleWith(ctx context.Context, limit, quiet time.Duration, keep GuestFilter) (api.Snapshot, []string) {
	deadline := time.Now().Add(limit)
	var snap api.Snapshot
	var bad []string
	var last string
	var since time.Time
	for {
		var err error
		snap, err = c.Agent.Snapshot(ctx)
		if err != nil {
			bad = []string{fmt.Sprintf("snapshot: %v", err)}
		} else {
			gs := c.Guests(ctx)
			if keep != nil {
				gs = keep(snap, gs)
			}
			bad = append(inFlight(snap), CheckGuests(snap, gs)...)
			if sig := signature(snap); sig != last {
				last, since = sig, time.Now()
			}
			if len(bad) == 0 && time.Since(since) >= quiet {
				return snap, nil
			}
		}
		if time.Now().After(deadline) {
			return snap, bad
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func inFlight(snap api.Snapshot) []string {
	var out []string
	for _, in := range snap.Instances {
		if slices.Contains(Transitional, in.State) {
			out = append(out, fmt.Sprintf("instance %d (%s) is still %s", in.ID, in.Name, in.State))
		}
	}
	return out
}

// signature is the record's instances (state, host, version) as a string.
func signature(snap api.Snapshot) string {
	var b strings.Builder
	for _, in := range snap.Instances {
		fmt.Fprintf(&b, "%d:%s:%v:%d;", in.ID, in.State, deref(in.HostID), in.Version)
	}
	return b.String()
}

// LostDisks returns, for every live simulated guest whose disk file is
// missing or was replaced since it started, what is wrong.
func (c *Cluster) LostDisks() []string {
	var out []string
	for _, h := range c.Hosts() {
		for id, err := range h.Sim().LostDisks() {
			out = append(out, fmt.Sprintf("instance %d on %s: %v", id, h.Name, err))
		}
	}
	sort.Strings(out)
	return out
}
