package scheduler

import (
	"cmp"
	"slices"
	"time"
)

// unit is one entry of the queue: a single request, or every request of
// a gang (same group, hint gang=true).
type unit struct {
	single *Request
	group  int64
	gang   []*Request
}

// queue orders the requests by priority (higher first), created time
// (older first) and instance id, and gathers each gang at the position of
// its first member. A request whose instance was already asked for is a
// duplicate and is not placed.
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
	gangAt := map[int64]int{}
	units = make([]unit, 0, len(reqs))
	for _, r := range order {
		if _, dup := seen[r.InstanceID]; dup {
			dups = append(dups, r)
			continue
		}
		seen[r.InstanceID] = struct{}{}
		if !r.Hints.Gang || r.Group == 0 {
			units = append(units, unit{single: r})
			continue
		}
		if u, ok := gangAt[r.Group]; ok {
			units[u].gang = append(units[u].gang, r)
			continue
		}
		gangAt[r.Group] = len(units)
		units = append(units, unit{group: r.Group, gang: []*Request{r}})
	}
	return units, dups
}

// placeGang places every member or none. Members go largest first (cores,
// then memory, then id), each seeing the ones before it; the first that
// finds no host undoes the others and every member is explained with
// "gang does not fit" and that member's reasons. The choice is greedy:
// there is no backtracking over earlier members' hosts.
func (p *placer) placeGang(u unit, now time.Time) {
	members := slices.Clone(u.gang)
	slices.SortStableFunc(members, func(a, b *Request) int {
		if c := cmp.Compare(b.Cores, a.Cores); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Memory, a.Memory); c != 0 {
			return c
		}
		return cmp.Compare(a.InstanceID, b.InstanceID)
	})
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
