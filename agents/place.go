package agents

import (
	"context"
	"fmt"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/plugins/telemetry"
	"github.com/tashi-go/tashi/scheduler"
)

// maxReplans bounds how often one wake-up re-plans after the CM rejected
// placements (the record moved under the agent's feet).
const maxReplans = 3

// maxExplanations is the most explanations the CM takes in one call.
const maxExplanations = 10000

// place asks package scheduler where the Pending instances go, submits
// the plans (an atomic one per gang), re-plans the rejected ones against a
// fresh snapshot a bounded number of times, and records why the rest
// wait and, for those placed with data, the locality they got. The racks
// and the data the requests read are resolved before Place, which stays
// pure.
func (a *Agent) place(ctx context.Context, snap api.Snapshot) {
	for try := 0; ; try++ {
		s, reqs := scheduler.FromAPI(&snap, a.cfg.Policy)
		if len(reqs) == 0 {
			return
		}
		setRacks(s, a.cfg.Topology)
		notes := a.data.fill(ctx, snap.Hosts, reqs)
		res := scheduler.Place(s, reqs, snap.Now)
		a.explain(ctx, res.Unplaced, notes, snap)
		rejected, accepted := a.submit(ctx, scheduler.Plans(a.cfg.Name, res), snap)
		a.explainPlaced(ctx, res.Placements, accepted, notes, snap)
		if rejected == 0 || try+1 >= maxReplans {
			return
		}
		fresh, err := a.cfg.CM.Snapshot(ctx)
		if err != nil {
			return
		}
		snap = fresh
	}
}

// setRacks gives each host its rack from the topology; a host the
// topology does not place (or places in rack "unknown") has none.
func setRacks(s *scheduler.Snapshot, topo *telemetry.Topology) {
	if topo == nil {
		return
	}
	for i := range s.Hosts {
		if loc, ok := topo.Locate(s.Hosts[i].Name); ok && loc.Rack != telemetry.Unknown {
			s.Hosts[i].Rack = loc.Rack
		}
	}
}

// submit sends the plans and returns how many placements were rejected
// for a reason a fresh plan could fix, and which instances the CM
// accepted; placements another agent's plan holds are not counted: its
// commit wakes this agent anyway.
func (a *Agent) submit(ctx context.Context, plans []api.Plan, snap api.Snapshot) (int, map[int64]bool) {
	rejected := 0
	accepted := map[int64]bool{}
	for _, p := range plans {
		res, err := a.cfg.CM.SubmitPlan(ctx, p)
		if err != nil {
			a.log.Warn("plan refused", "placements", len(p.Placements), "err", err)
			rejected += len(p.Placements)
			continue
		}
		a.activateAccepted(ctx, p, res, snap)
		for _, r := range res.Results {
			if r.Accepted {
				accepted[r.InstanceID] = true
			} else if !r.Stale {
				rejected++
				a.log.Info("placement not accepted", "instance_id", r.InstanceID, "reason", r.Reason)
			}
		}
	}
	return rejected, accepted
}

// explain records, for every instance left Pending, why (with the files
// of its dfsFiles hint that were not resolved); only what changed since
// this agent last said it is written.
func (a *Agent) explain(ctx context.Context, unplaced []scheduler.Explanation, notes map[int64]dataNote, snap api.Snapshot) {
	var xs []api.Explanation
	a.mu.Lock()
	for _, u := range unplaced {
		msg := u.String()
		if u.Expired {
			msg = fmt.Sprintf("gang has waited %s, past its deadline: %s", u.Waited.Round(1e9), msg)
		}
		if n := notes[u.InstanceID]; n.text != "" {
			msg += "; " + n.text
		}
		if a.said[u.InstanceID] == msg {
			continue
		}
		a.said[u.InstanceID] = msg
		x := api.Explanation{InstanceID: u.InstanceID, Message: msg, Considered: u.Hosts,
			Rejected: map[string]int{}, At: snap.Now}
		for _, rc := range u.Rejected {
			x.Rejected[rc.Reason.String()] = rc.Hosts
		}
		xs = append(xs, x)
	}
	a.mu.Unlock()
	a.record(ctx, xs)
}

// explainPlaced records, for every accepted placement that read data,
// had files not resolved, or replaces an earlier "why it waits", where
// it went and the locality it got (Placement.Locality).
func (a *Agent) explainPlaced(ctx context.Context, pls []scheduler.Placement, accepted map[int64]bool,
	notes map[int64]dataNote, snap api.Snapshot) {
	names := map[int64]string{}
	for _, h := range snap.Hosts {
		names[h.ID] = h.Name
	}
	var xs []api.Explanation
	a.mu.Lock()
	for _, pl := range pls {
		_, waited := a.said[pl.InstanceID]
		note, loc := notes[pl.InstanceID], pl.Locality()
		if !accepted[pl.InstanceID] || (!waited && note.text == "" && loc == "") {
			continue
		}
		delete(a.said, pl.InstanceID)
		msg := "placed on " + names[pl.HostID]
		if note.text != "" {
			msg += "; " + note.placed()
		}
		xs = append(xs, api.Explanation{InstanceID: pl.InstanceID, Message: msg, Locality: loc, At: snap.Now})
	}
	a.mu.Unlock()
	for _, x := range xs {
		if x.Locality != "" {
			a.log.Info("placed with data", "instance_id", x.InstanceID, "explanation", x.Message, "locality", x.Locality)
		}
	}
	a.record(ctx, xs)
}

// record sends explanations to the CM, at most maxExplanations a call.
func (a *Agent) record(ctx context.Context, xs []api.Explanation) {
	for len(xs) > 0 {
		n := min(len(xs), maxExplanations)
		if err := a.cfg.CM.Explain(ctx, xs[:n]); err != nil {
			a.log.Warn("record explanations", "count", n, "err", err)
		}
		xs = xs[n:]
	}
}

// activateAccepted starts activating what the CM just accepted, without
// waiting for the next wake-up and snapshot (unless PlaceOnly): each
// instance is now Activating on its host, one version on.
func (a *Agent) activateAccepted(ctx context.Context, p api.Plan, res api.PlanResult, snap api.Snapshot) {
	if a.cfg.PlaceOnly {
		return
	}
	hostOf := map[int64]int64{}
	for _, x := range p.Placements {
		hostOf[x.InstanceID] = x.HostID
	}
	byID := map[int64]*api.Instance{}
	for i := range snap.Instances {
		byID[snap.Instances[i].ID] = &snap.Instances[i]
	}
	hosts := map[int64]*api.Host{}
	for i := range snap.Hosts {
		hosts[snap.Hosts[i].ID] = &snap.Hosts[i]
	}
	nets := networkInfo(snap.Networks)
	steps := a.steps()
	for _, r := range res.Results {
		in, ok := byID[r.InstanceID]
		if !r.Accepted || !ok || in.Hints["__resume_source"] != "" {
			continue // resumes take the next snapshot's path
		}
		next := *in
		next.Version++
		next.State = api.Activating
		h := hostOf[in.ID]
		next.HostID = &h
		w := work{in: next, host: hosts[h], nets: nets}
		a.start(in.ID, func() { a.carry(ctx, w, steps[api.Activating]) })
	}
}
