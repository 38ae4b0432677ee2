package agents

import (
	"context"
	"slices"

	"github.com/tashi-go/tashi/api"
)

// place is the interim placement: first fit over hosts that are up and
// Normal, honouring reservations and the hints targetHost and
// allowElsewhere. The scheduler issue replaces it with scheduler.Place;
// the CM re-verifies every placement either way.
func (a *Agent) place(ctx context.Context, snap api.Snapshot) {
	hosts := make([]*api.Host, 0, len(snap.Hosts))
	for i := range snap.Hosts {
		hosts = append(hosts, &snap.Hosts[i])
	}
	var plan api.Plan
	plan.Agent = a.cfg.Name
	for _, in := range snap.Instances {
		if in.State != api.Pending {
			continue
		}
		if h := firstFit(hosts, in); h != nil {
			h.UsedCores += in.Cores
			h.UsedMemory += in.Memory
			plan.Placements = append(plan.Placements, api.Placement{InstanceID: in.ID, Version: in.Version, HostID: h.ID})
		}
	}
	if len(plan.Placements) == 0 {
		return
	}
	res, err := a.cfg.CM.SubmitPlan(ctx, plan)
	if err != nil {
		a.log.Warn("plan refused", "err", err)
		return
	}
	for _, r := range res.Results {
		if !r.Accepted {
			a.log.Info("placement not accepted", "instance_id", r.InstanceID, "reason", r.Reason)
		}
	}
}

func firstFit(hosts []*api.Host, in api.Instance) *api.Host {
	target := in.Hints["targetHost"]
	for _, h := range hosts {
		if target != "" && target != h.Name && target != itoa(h.ID) {
			continue
		}
		if fits(h, in) {
			return h
		}
	}
	if target != "" && in.Hints["allowElsewhere"] == "true" {
		in.Hints = nil
		return firstFit(hosts, in)
	}
	return nil
}

func fits(h *api.Host, in api.Instance) bool {
	return h.Up && h.State == api.HostNormal &&
		(len(h.Reserved) == 0 || slices.Contains(h.Reserved, in.UserID)) &&
		h.UsedCores+in.Cores <= h.Cores && h.UsedMemory+in.Memory <= h.Memory
}
