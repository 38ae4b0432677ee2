package agents

import (
	"context"
	"fmt"

	"github.com/tashi-go/tashi/api"
	"github.com/tashi-go/tashi/scheduler"
)

// maxReplans bounds how often one wake-up re-plans after the CM rejected
// placements (the record moved under the agent's feet).
const maxReplans = 3

// place asks package scheduler where the Pending instances go, submits
// the plans (an atomic one per gang), re-plans the rejected ones against a
// fresh snapshot a bounded number of times, and records why the rest
// wait.
func (a *Agent) place(ctx context.Context, snap api.Snapshot) {
	for try := 0; ; try++ {
		s, reqs := scheduler.FromAPI(&snap, a.cfg.Policy)
		if len(reqs) == 0 {
			return
		}
		res := scheduler.Place(s, reqs, snap.Now)
		a.explain(ctx, res.Unplaced, snap)
		rejected := a.submit(ctx, scheduler.Plans(a.cfg.Name, res), snap)
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

// submit sends the plans and returns how many placements were rejected
// for a reason a fresh plan could fix; placements another agent's plan
// holds are not counted: its commit wakes this agent anyway.
func (a *Agent) submit(ctx context.Context, plans []api.Plan, snap api.Snapshot) int {
	rejected := 0
	for _, p := range plans {
		res, err := a.cfg.CM.SubmitPlan(ctx, p)
		if err != nil {
			a.log.Warn("plan refused", "placements", len(p.Placements), "err", err)
			rejected += len(p.Placements)
			continue
		}
		a.activateAccepted(ctx, p, res, snap)
		for _, r := range res.Results {
			if !r.Accepted && !r.Stale {
				rejected++
				a.log.Info("placement not accepted", "instance_id", r.InstanceID, "reason", r.Reason)
			}
		}
	}
	return rejected
}

// explain records, for every instance left Pending, why; only what
// changed since this agent last said it is written.
func (a *Agent) explain(ctx context.Context, unplaced []scheduler.Explanation, snap api.Snapshot) {
	var xs []api.Explanation
	a.mu.Lock()
	for _, u := range unplaced {
		msg := u.String()
		if u.Expired {
			msg = fmt.Sprintf("gang has waited %s, past its deadline: %s", u.Waited.Round(1e9), msg)
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
	if len(xs) == 0 {
		return
	}
	if err := a.cfg.CM.Explain(ctx, xs); err != nil {
		a.log.Warn("record explanations", "count", len(xs), "err", err)
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
