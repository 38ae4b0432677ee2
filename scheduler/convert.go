package scheduler

import "github.com/tashi-go/tashi/api"

// FromAPI builds Place's input from an agent's snapshot: every host, the
// instances on a host (any state but Exited) for affinity and persistent
// disks, and one Request per Pending instance, in snapshot order. A
// Pending instance whose scheduler hints do not parse gets a Request with
// Hints.Invalid set, so that Place explains it instead of dropping it.
func FromAPI(s *api.Snapshot, policy Policy) (*Snapshot, []Request) {
	out := &Snapshot{Hosts: make([]Host, len(s.Hosts)), Policy: policy}
	for i := range s.Hosts {
		out.Hosts[i] = hostFromAPI(&s.Hosts[i], s.Reservations)
	}
	var reqs []Request
	for i := range s.Instances {
		in := &s.Instances[i]
		switch {
		case in.State == api.Pending:
			reqs = append(reqs, RequestFromAPI(in))
		case in.HostID != nil && in.State != api.Exited:
			out.Instances = append(out.Instances, instanceFromAPI(in))
		}
	}
	return out, reqs
}

func hostFromAPI(h *api.Host, reservations map[int64][]int64) Host {
	reserved := h.Reserved
	if len(reserved) == 0 {
		reserved = reservations[h.ID]
	}
	return Host{ID: h.ID, Name: h.Name, Up: h.Up, State: hostStateFromAPI(h.State),
		Cores: h.Cores, Memory: h.Memory, UsedCores: h.UsedCores, UsedMemory: h.UsedMemory,
		ReservedFor: reserved, Load1: h.Stats.Load1, FreeMemory: h.Stats.FreeMemory}
}

// hostStateFromAPI maps a state this package does not know to Drained, so
// that such a host takes no VMs.
func hostStateFromAPI(s api.HostState) HostState {
	switch s {
	case api.HostNormal:
		return HostNormal
	case api.HostVersionMismatch:
		return HostVersionMismatch
	}
	return HostDrained
}

func instanceFromAPI(in *api.Instance) Instance {
	h, _, _ := ParseHints(in.Hints) // a bad label on a placed VM is no label
	return Instance{ID: in.ID, Host: *in.HostID, Group: deref(in.GroupID), User: in.UserID,
		Affinity: h.Affinity, AntiAffinity: h.AntiAffinity, PersistentDisks: persistent(in.Disks)}
}

// RequestFromAPI is the Request for one Pending instance. The priority
// comes from the hint priority=N (0 when absent).
func RequestFromAPI(in *api.Instance) Request {
	h, prio, _ := ParseHints(in.Hints) // an error is kept in h.Invalid
	return Request{InstanceID: in.ID, Version: in.Version, User: in.UserID, Cores: in.Cores,
		Memory: in.Memory, Group: deref(in.GroupID), Hints: h, Priority: prio,
		Created: in.CreatedAt, PersistentDisks: persistent(in.Disks), AvoidHosts: in.FailedHosts}
}

func persistent(ds []api.Disk) []string {
	var out []string
	for _, d := range ds {
		if d.Persistent {
			out = append(out, d.URI)
		}
	}
	return out
}

// MaxPlanPlacements is the most placements the CM accepts in one plan.
const MaxPlanPlacements = 10000

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Plans turns a Result into the plans an agent submits: one Atomic plan
// per gang, so that the CM accepts all of it or none, in the order the
// gangs were placed, then the other placements in plans of at most
// MaxPlanPlacements. It returns nil when nothing was placed.
func Plans(agent string, res Result) []api.Plan {
	var plans []api.Plan
	var rest []api.Placement
	gangAt := map[int64]int{}
	for _, pl := range res.Placements {
		x := api.Placement{InstanceID: pl.InstanceID, Version: pl.Version, HostID: pl.HostID}
		if pl.Gang == 0 {
			rest = append(rest, x)
			continue
		}
		k, ok := gangAt[pl.Gang]
		if !ok {
			k = len(plans)
			gangAt[pl.Gang] = k
			plans = append(plans, api.Plan{Agent: agent, Atomic: true})
		}
		plans[k].Placements = append(plans[k].Placements, x)
	}
	for len(rest) > 0 {
		n := min(len(rest), MaxPlanPlacements)
		plans = append(plans, api.Plan{Agent: agent, Placements: rest[:n:n]})
		rest = rest[n:]
	}
	return plans
}
