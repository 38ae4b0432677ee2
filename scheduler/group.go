package scheduler

import (
	"cmp"
	"container/heap"
	"slices"
	"time"
)

// A data group is a createMany whose members share Data (Data.Group):
// its N members must read the blocks between them, each block once, and
// each member should sit where its share is. Choosing the hosts is
// NP-hard (max coverage is a special case); splitting the blocks once the
// hosts are chosen is a matching. Place takes the group as one unit (all
// or none when it is also a gang) in two steps:
//
//  A. Hosts (groupChoice). Members are taken largest first, as a gang's
//     are. Each goes, among the hosts that pass every filter for it, to
//     the one where one more VM of the group adds the most node-local
//     bytes to the best split of the blocks among the VMs chosen so far.
//     That split is kept as a maximum node-local matching (assign.go):
//     adding a VM on host h adds room for shareCap bytes on h, and the
//     gain is what augmenting paths ending at the new VM bring in
//     (matcher.grow), found exactly, not guessed from the bytes on h. The
//     node-local bytes of the best split are a submodular function of the
//     set of VMs (for blocks of one size), so a gain never grows as VMs
//     are added: a lazy greedy keeps every host in a heap under its last
//     gain, an upper bound, and evaluates only the top until the top's
//     fresh gain still leads. A member for which no host adds node-local
//     bytes goes to the rack with the most bytes that no VM holds yet less
//     the fair shares of the group's VMs already there, on the best-scored
//     host of that rack that passes the filters; failing that, where the
//     usual choose puts it. Then a local search (improve.go) moves members
//     to hosts where they make more bytes node-local, each move evaluated
//     exactly on the matching, with sideways moves to leave plateaus.
//  B. Blocks (assignBlocks): with the hosts fixed, the blocks are split
//     afresh among the members placed: node-local matching, then
//     rack-local, then the rest (assign.go).
//
// How good: on small groups, against the exact optimum found by trying
// every placement, Place is optimal in all but a handful of cases
// (TestGroupPlacementAgainstOptimum, TestLocalityTable); on large ones it
// is compared with upper bounds (fractional relaxations solved exactly,
// flowbound_test.go), which have slack of their own.

// placeGroup places a unit with a data group: its other members (a gang's
// members without group data) as placeGang does, then the data members
// (steps A and B), then it reports them all.
func (p *placer) placeGroup(u unit, now time.Time) {
	run := &groupRun{p: p, u: u, now: now}
	others, members, ok := run.sort()
	if !ok || !run.placeOthers(others) {
		return
	}
	bs := p.blockSet(u.data())
	g := p.newGroupChoice(bs, len(members), Seed(u.gang[0].InstanceID, u.gang[0].Version))
	jobs, hosts, ok := run.choose(g, members)
	if !ok {
		return
	}
	g.improve(jobs, hosts)
	run.report(jobs, hosts, assignBlocks(bs, hosts, p.racks()))
}

// groupRun is one data group being placed.
type groupRun struct {
	p      *placer
	u      unit
	now    time.Time
	placed []*job // the members placed so far, and their hosts
	hosts  []int32
}

// fail explains r; in a gang it undoes every member placed, explains them
// all with r's reasons and reports true: stop.
func (run *groupRun) fail(r *Request, e Explanation) bool {
	if !run.u.isGang {
		run.p.unplaced(e)
		return false
	}
	for k := len(run.placed) - 1; k >= 0; k-- {
		run.p.uncommit(run.placed[k], run.hosts[k])
	}
	run.p.gangFailed(run.u, r.InstanceID, e, run.now)
	return true
}

// sort explains the invalid members and splits the others, largest
// first, into those without group data and the data members.
func (run *groupRun) sort() (others, members []*Request, ok bool) {
	for _, r := range largestFirst(run.u.gang) {
		if why, detail := invalid(r); why != OK {
			e := explanation(r, why, run.now)
			e.Detail = detail
			if run.fail(r, e) {
				return nil, nil, false
			}
			continue
		}
		if inDataGroup(r) {
			members = append(members, r)
		} else {
			others = append(others, r)
		}
	}
	return others, members, true
}

func (run *groupRun) placeOthers(others []*Request) bool {
	for _, r := range others {
		m, ok := run.p.tryMember(r, run.now)
		if !ok {
			if run.fail(r, m.why) {
				return false
			}
			continue
		}
		run.placed = append(run.placed, m.job)
		run.hosts = append(run.hosts, m.host)
	}
	return true
}

// choose is step A for the data members: it returns those placed and
// their hosts (index k of either is VM k of the matching).
func (run *groupRun) choose(g *groupChoice, members []*Request) (jobs []*job, hosts []int32, ok bool) {
	for _, r := range members {
		j := new(job)
		*j = run.p.newJob(r)
		i := g.choose(j)
		if i < 0 {
			if run.fail(r, run.p.explain(j, run.now)) {
				return nil, nil, false
			}
			continue
		}
		run.p.commit(j, i)
		run.placed = append(run.placed, j)
		run.hosts = append(run.hosts, i)
		jobs = append(jobs, j)
		hosts = append(hosts, i)
	}
	return jobs, hosts, true
}

// report adds the placements: the other members first, then the data
// members (on hosts, the local search's final choice) with their shares
// and their score for them, taken as the host was before the member.
func (run *groupRun) report(jobs []*job, hosts []int32, shares []vmShare) {
	p, gang := run.p, int64(0)
	if run.u.isGang {
		gang = run.u.group
	}
	others := len(run.placed) - len(jobs)
	for k, j := range run.placed[:others] {
		p.res.Placements = append(p.res.Placements, p.placement(j, run.hosts[k], gang))
	}
	for k, j := range jobs {
		s, i := &shares[k], hosts[k]
		j.share = s
		p.uncommit(j, i)
		j.score = p.score(j, i)
		p.commit(j, i)
		pl := p.placement(j, i, gang)
		pl.RequestedBytes, pl.LocalBytes, pl.RackBytes, pl.Blocks = s.requested, s.local, s.rack, s.blocks
		p.res.Placements = append(p.res.Placements, pl)
	}
}

// groupChoice chooses the hosts of a data group's members (step A above).
type groupChoice struct {
	p         *placer
	bs        *blockSet
	m         *matcher // the node-local matching of the blocks to the VMs chosen so far
	on        bool     // locality steers the choice
	fair      int64    // ceil(total/members): what a member reads on average
	heap      gainHeap
	aside     []gain
	need      []int64 // per rack, scratch of pickRack
	rackOrder []int32
	cands     []int32   // scratch of candidates
	left      [][]int32 // per VM: the hosts the local search moved it away from
}

func (p *placer) newGroupChoice(bs *blockSet, n int, seed uint64) *groupChoice {
	rk := p.racks()
	g := &groupChoice{p: p, bs: bs, on: p.locality && bs.total > 0 && n > 0}
	if n > 0 {
		g.fair = (bs.total + int64(n) - 1) / int64(n)
	}
	g.m = newMatcher(bs, shareCap(bs.total, bs.largest, n), rk.rackOf, len(rk.hosts))
	if !g.on {
		return g
	}
	for i, blks := range bs.onHost {
		if len(blks) == 0 || hostState(&p.hosts[i]) != OK {
			continue
		}
		held := int64(0)
		for _, b := range blks {
			held += bs.size[b]
		}
		if bound := min(held, g.m.cap); bound > 0 {
			g.heap = append(g.heap, gain{bytes: bound, tie: mix(seed ^ uint64(p.hosts[i].ID)), host: int32(i)})
		}
	}
	heap.Init(&g.heap)
	return g
}

// choose finds the host of one member and adds its VM to the matching;
// -1 when no host passes the filters.
func (g *groupChoice) choose(j *job) int32 {
	if g.on {
		if i := g.pickLocal(j); i >= 0 {
			return i
		}
		if i := g.pickRack(j); i >= 0 {
			g.m.addVM(i)
			return i
		}
	}
	i := g.p.choose(j)
	if i >= 0 {
		g.m.addVM(i)
	}
	return i
}

// pickLocal is the lazy greedy step: the feasible host where one more VM
// adds the most node-local bytes, with that VM added and filled; -1 when
// no feasible host adds any.
func (g *groupChoice) pickLocal(j *job) int32 {
	p, m := g.p, g.m
	aside := g.aside[:0]
	defer func() {
		for _, e := range aside {
			heap.Push(&g.heap, e)
		}
		g.aside = aside[:0]
	}()
	for g.heap.Len() > 0 {
		e := heap.Pop(&g.heap).(gain)
		if p.check(e.host, j) != OK {
			aside = append(aside, e) // a smaller member may fit
			continue
		}
		m.logging = true
		v := m.addVM(e.host)
		fresh := gain{bytes: m.grow(v), tie: e.tie, host: e.host}
		if fresh.bytes > 0 && (g.heap.Len() == 0 || !g.heap[0].before(fresh)) {
			m.keep()
			heap.Push(&g.heap, fresh) // the bound for one more VM there
			return e.host
		}
		m.undo()
		m.dropLastVM()
		if fresh.bytes > 0 {
			heap.Push(&g.heap, fresh)
		} // else gone for good: gains only shrink
	}
	return -1
}

// pickRack: the best-scored feasible host of the rack with the most bytes
// that no VM of the group holds yet, less what the group's VMs already
// there will still read (each about its fair share); -1 when no rack
// with such bytes has one.
func (g *groupChoice) pickRack(j *job) int32 {
	p, m, rk := g.p, g.m, g.p.racks()
	if len(rk.hosts) == 0 {
		return -1
	}
	if cap(g.need) < len(rk.hosts) {
		g.need = make([]int64, len(rk.hosts))
	}
	need := g.need[:len(rk.hosts)]
	clear(need)
	for b, rs := range g.bs.racks {
		if m.owner[b] < 0 {
			for _, r := range rs {
				need[r] += g.bs.size[b]
			}
		}
	}
	for r, vms := range m.rackVMs {
		for _, v := range vms {
			need[r] -= max(0, g.fair-m.load[v]) // in the end each reads about its fair share
		}
	}
	order := g.rackOrder[:0]
	for r, n := range need {
		if n > 0 {
			order = append(order, int32(r))
		}
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Or(cmp.Compare(need[b], need[a]), cmp.Compare(a, b)) })
	g.rackOrder = order
	for _, r := range order {
		p.cands = p.cands[:0]
		for _, i := range rk.hosts[r] {
			if p.check(i, j) == OK {
				p.cands = append(p.cands, i)
			}
		}
		if len(p.cands) > 0 {
			return p.best(j)
		}
	}
	return -1
}

// gain is a host in the lazy greedy's heap: the node-local bytes one
// more VM there added when last evaluated (an upper bound on what it adds
// now), and a tie-break seeded from the group.
type gain struct {
	bytes int64
	tie   uint64
	host  int32
}

// before: a ranks above b (more bytes, then the lower tie-break).
func (a gain) before(b gain) bool {
	return a.bytes > b.bytes || (a.bytes == b.bytes && a.tie < b.tie)
}

type gainHeap []gain

func (h gainHeap) Len() int           { return len(h) }
func (h gainHeap) Less(a, b int) bool { return h[a].before(h[b]) }
func (h gainHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *gainHeap) Push(x any)        { *h = append(*h, x.(gain)) }
func (h *gainHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
