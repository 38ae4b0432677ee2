package scheduler

import (
	"cmp"
	"slices"
	"time"
)

// unit is one entry of the queue: a single request, or every request of
// a gang (same group, hint gang=true), or every request of a data group
// (same group, Data.Group, no gang hint).
type unit struct {
	single *Request
	group  int64
	gang   []*Request // the members, in queue order
	isGang bool       // all or none
}

// unitKey gathers a group's members: its gang, and apart from it the
// members of its data group that are not in the gang.
type unitKey struct {
	group int64
	gang  bool
}

// inDataGroup: r shares its Data with the other members of its group.
func inDataGroup(r *Request) bool { return r.Group != 0 && r.Data != nil && r.Data.Group }

// data is the Data the unit's data group shares: its first member's in
// queue order. nil when no member is in a data group.
func (u unit) data() *Data {
	for _, r := range u.gang {
		if inDataGroup(r) {
			return r.Data
		}
	}
	return nil
}

// queue orders the requests by priority (higher first), created time
// (older first) and instance id, and gathers each gang, and each data
// group's members outside a gang, at the position of its first member. A
// request whose instance was already asked for is a duplicate and is not
// placed.
func queue(reqs []Request) (units []unit, dups []*Request) {
	order := make([]*Request, len(reqs))
	for i := range reqs {
		order[i] = &reqs[i]
	}
	slices.SortStableFunc(order, func(a, b *Request) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.InstanceID, b.InstanceID)
	})
	seen := make(map[int64]struct{}, len(reqs))
	gangAt := map[unitKey]int{}
	units = make([]unit, 0, len(reqs))
	for _, r := range order {
		if _, dup := seen[r.InstanceID]; dup {
			dups = append(dups, r)
			continue
		}
		seen[r.InstanceID] = struct{}{}
		gang := r.Hints.Gang && r.Group != 0
		if !gang && !inDataGroup(r) {
			units = append(units, unit{single: r})
			continue
		}
		k := unitKey{group: r.Group, gang: gang}
		if u, ok := gangAt[k]; ok {
			units[u].gang = append(units[u].gang, r)
			continue
		}
		gangAt[k] = len(units)
		units = append(units, unit{group: r.Group, gang: []*Request{r}, isGang: gang})
	}
	return units, dups
}

// placeGang places every member or none. Members go largest first (cores,
// then memory, then id), each seeing the ones before it; the first that
// finds no host undoes the others and every member is explained with
// "gang does not fit" and that member's reasons. The choice is greedy:
// there is no backtracking over earlier members' hosts.
func (p *placer) placeGang(u unit, now time.Time) {
	members := largestFirst(u.gang)
	jobs := make([]*job, 0, len(members))
	hosts := make([]int32, 0, len(members))
	for _, r := range members {
		m, ok := p.tryMember(r, now)
		if !ok {
			for k := len(jobs) - 1; k >= 0; k-- {
				p.uncommit(jobs[k], hosts[k])
			}
			p.gangFailed(u, r.InstanceID, m.why, now)
			return
		}
		jobs = append(jobs, m.job)
		hosts = append(hosts, m.host)
	}
	for k, j := range jobs {
		p.res.Placements = append(p.res.Placements, p.placement(j, hosts[k], u.group))
	}
}

// largestFirst orders members by cores, then memory (larger first), then
// instance id.
func largestFirst(rs []*Request) []*Request {
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(a, b *Request) int {
		if c := cmp.Compare(b.Cores, a.Cores); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Memory, a.Memory); c != 0 {
			return c
		}
		return cmp.Compare(a.InstanceID, b.InstanceID)
	})
	return out
}

// memberTry is the outcome of one gang member: its host, or why not.
type memberTry struct {
	job  *job
	host int32
	why  Explanation
}

func (p *placer) tryMember(r *Request, now time.Time) (memberTry, bool) {
	if why, detail := invalid(r); why != OK {
		e := explanation(r, why, now)
		e.Detail = detail
		return memberTry{why: e}, false
	}
	j := new(job)
	*j = p.newJob(r)
	i := p.choose(j)
	if i < 0 {
		return memberTry{why: p.explain(j, now)}, false
	}
	p.commit(j, i)
	return memberTry{job: j, host: i}, true
}

// gangFailed explains every member of u with the failing member's reasons.
func (p *placer) gangFailed(u unit, member int64, f Explanation, now time.Time) {
	detail := f.Detail
	if f.Reason != ReasonNoHost {
		detail = join(f.Reason.String(), detail)
	}
	for _, r := range u.gang {
		e := explanation(r, ReasonGang, now)
		e.GangMember, e.Detail = member, detail
		e.Hosts, e.Rejected = f.Hosts, slices.Clone(f.Rejected)
		e.Expired = p.snap.Policy.GangTimeout > 0 && e.Waited > p.snap.Policy.GangTimeout
		p.unplaced(e)
	}
}

func join(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}
