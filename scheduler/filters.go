package scheduler

import "slices"

// This file holds the filters. Each is a small function that returns the
// Reason it rejects a host for, or OK. check runs them in the order of the
// Reason constants; a host is counted under the first that rejects it.

// check is the filter chain for host i and job j.
func (p *placer) check(i int32, j *job) Reason {
	h := &p.hosts[i]
	if why := hostState(h); why != OK {
		return why
	}
	if why := targetHost(i, j); why != OK {
		return why
	}
	if why := reservation(h, j.r.User); why != OK {
		return why
	}
	if slices.Contains(j.r.AvoidHosts, h.ID) {
		return ReasonFailedBefore
	}
	if why := persistentDisk(j); why != OK {
		return why
	}
	if why := capacity(h, p.added[i], j.r); why != OK {
		return why
	}
	if why := antiAffinity(i, j); why != OK {
		return why
	}
	return affinity(i, j)
}

// hostState: the host is up and Normal.
func hostState(h *Host) Reason {
	switch {
	case !h.Up:
		return ReasonHostDown
	case h.State == HostDrained:
		return ReasonHostDrained
	case h.State != HostNormal:
		return ReasonVersionMismatch
	}
	return OK
}

// targetHost: with a targetHost hint, only that host. After the
// allowElsewhere fallback j.target is noTarget and every host passes.
func targetHost(i int32, j *job) Reason {
	if j.target != noTarget && j.target != i {
		return ReasonNotTarget
	}
	return OK
}

// reservation: a reserved host takes only its users' VMs.
func reservation(h *Host, user int64) Reason {
	if len(h.ReservedFor) > 0 && !slices.Contains(h.ReservedFor, user) {
		return ReasonReserved
	}
	return OK
}

// persistentDisk: a persistent image is written in place, so no two
// instances may run on it. It does not depend on the host: when the disk
// is busy every host is rejected. j.diskBusy is diskBusy(), evaluated
// once per decision.
func persistentDisk(j *job) Reason {
	if j.diskBusy {
		return ReasonDiskInUse
	}
	return OK
}

// diskBusy: another instance holds one of the request's persistent disks.
func diskBusy(inUse map[string]int64, r *Request) bool {
	for _, d := range r.PersistentDisks {
		if holder, ok := inUse[d]; ok && holder != r.InstanceID {
			return true
		}
	}
	return false
}

// capacity: free cores, then free memory, counting what this call has
// already added to the host (Host.Memory is net of its reservedMem).
func capacity(h *Host, added usage, r *Request) Reason {
	switch {
	case h.UsedCores+int(added.cores)+r.Cores > h.Cores:
		return ReasonCores
	case h.UsedMemory+int(added.memory)+r.Memory > h.Memory:
		return ReasonMemory
	}
	return OK
}

// antiAffinity: a hard member shares no host with another member of its
// label and scope; a soft one avoids only the hosts of hard members (and
// pays ScoreAffinity's penalty for the others).
func antiAffinity(i int32, j *job) Reason {
	if j.anti == nil {
		return OK
	}
	if j.anti.hard[i] > 0 || (j.antiHard && j.anti.all[i] > 0) {
		return ReasonAntiAffinity
	}
	return OK
}

// affinity (hard): once a member of the label and scope is placed, the
// others go to a host that holds one.
func affinity(i int32, j *job) Reason {
	if j.affHard && len(j.affine.all) > 0 && j.affine.all[i] == 0 {
		return ReasonAffinity
	}
	return OK
}
