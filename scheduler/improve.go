package scheduler

import (
	"cmp"
	"slices"
)

// The local search of a data group's hosts (step A's last part, see
// group.go): members move, one at a time, to hosts where they make more
// bytes node-local, every move evaluated exactly on the matching.

// improvePasses bounds the local search's passes over the members; it
// stops earlier after a pass that moved nobody, or when its budget is
// spent.
const improvePasses = 8

// improveBudget bounds the local search's work, in blocks looked at by
// its searches: improveBudget per member and block replica, plus
// improveFloor. A pass over a large group costs about 1.5 per member and
// replica, and the first pass finds most of what the search finds
// (TestLocalityTable), so large groups get a few passes and small ones
// as many as they need. It is counted, not timed, so that Place stays a
// function of its arguments.
const (
	improveBudget = 6
	improveFloor  = 100000
)

// relocateTries is how many hosts the local search tries for one member.
const relocateTries = 3

// improve is a local search over the hosts step A chose (hosts[v] is VM
// v's, jobs[v] its member): a member moves to another host when that
// makes more bytes node-local. Each pass tries the members with the
// fewest node-local bytes first. A pass that gains nothing is followed
// by one that also takes sideways moves (as many bytes node-local, to a
// host the member has not left before), then by gaining passes again. A
// move is evaluated exactly and undone unless it gains or, sideways,
// keeps the total, so the result is never worse than the greedy's.
func (g *groupChoice) improve(jobs []*job, hosts []int32) {
	if !g.on {
		return
	}
	m := g.m
	g.left = make([][]int32, len(hosts))
	replicas := 0
	for _, hs := range g.bs.hosts {
		replicas += len(hs)
	}
	budget := m.work + improveBudget*len(hosts)*(replicas+len(hosts)) + improveFloor
	order := make([]int32, len(hosts))
	stuck := false // the last pass gained nothing: allow sideways moves
	for pass := 0; pass < improvePasses; pass++ {
		for v := range order {
			order[v] = int32(v)
		}
		slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(m.load[a], m.load[b]) })
		moved, gained := false, false
		for _, v := range order {
			if m.work > budget {
				return
			}
			switch g.relocate(v, jobs[v], hosts, stuck) {
			case moveGained:
				moved, gained = true, true
			case moveSideways:
				moved = true
			}
		}
		switch {
		case !moved && stuck:
			return // not even sideways
		case gained:
			stuck = false
		default:
			stuck = !stuck // nothing gained: sideways next, or gains again after sideways steps
		}
	}
}

// The outcomes of relocate.
const (
	moveNone = iota
	moveGained
	moveSideways
)

// relocate tries to move VM v (member j, on hosts[v]): it frees v's
// blocks and re-matches them among the other VMs, then tries v on the
// few feasible hosts with the most bytes no VM holds, filling it there
// by pulls; it keeps the first move that makes more bytes node-local.
// Failing that, with sideways, it keeps the first move that makes as
// many (which lets two moves do what neither does alone) unless it takes
// v back to a host it left. Sideways moves are only tried once a whole
// pass found no gain, so that they do not spoil a gain elsewhere.
func (g *groupChoice) relocate(v int32, j *job, hosts []int32, sideways bool) int {
	p, m := g.p, g.m
	from, before := hosts[v], m.matched
	m.logging = true
	freed := slices.Clone(m.vmBlks[v])
	for _, b := range freed {
		m.put(b, -1, heldNone)
	}
	m.detach(v)
	m.newRound() // v's blocks left: its room is gone, but earlier marks predate other moves
	for _, b := range freed {
		if m.owner[b] < 0 {
			m.augment(b, heldNode)
		}
	}
	p.uncommit(j, from)
	mark := len(m.log)
	aside := int32(-1)
	for _, h := range g.candidates(j, from) {
		m.attach(v, h)
		m.grow(v)
		after := m.matched
		m.undoTo(mark)
		m.detach(v)
		if after > before {
			g.moveTo(v, j, h, hosts)
			return moveGained
		}
		if sideways && after == before && aside < 0 && !slices.Contains(g.left[v], h) {
			aside = h
		}
	}
	if aside >= 0 {
		g.moveTo(v, j, aside, hosts)
		return moveSideways
	}
	m.undo()
	m.attach(v, from)
	p.commit(j, from)
	return moveNone
}

// moveTo completes a move of VM v, its blocks freed and re-matched and v
// on no host: v goes to h and is filled there.
func (g *groupChoice) moveTo(v int32, j *job, h int32, hosts []int32) {
	g.left[v] = append(g.left[v], hosts[v])
	g.m.attach(v, h)
	g.m.grow(v)
	g.m.keep()
	g.p.commit(j, h)
	hosts[v] = h
}

// candidates are up to relocateTries hosts other than from that pass the
// filters for j, with the most bytes held by no VM (ties: lower index).
// It keeps the best few in a small sorted buffer while scanning, and
// scans again with a larger buffer in the rare case too few of them pass.
func (g *groupChoice) candidates(j *job, from int32) []int32 {
	p, m := g.p, g.m
	ahead := func(a, b int32) bool { return m.freeOn[a] > m.freeOn[b] || (m.freeOn[a] == m.freeOn[b] && a < b) }
	for size := 4 * relocateTries; ; size *= 4 {
		top := g.cands[:0]
		for h, free := range m.freeOn {
			x := int32(h)
			if free <= 0 || x == from || (len(top) == size && !ahead(x, top[size-1])) {
				continue
			}
			if len(top) < size {
				top = append(top, x)
			} else {
				top[size-1] = x
			}
			for k := len(top) - 1; k > 0 && ahead(top[k], top[k-1]); k-- {
				top[k], top[k-1] = top[k-1], top[k]
			}
		}
		g.cands = top
		n := 0
		for _, h := range top {
			if n == relocateTries {
				break
			}
			if p.check(h, j) == OK {
				top[n] = h
				n++
			}
		}
		if n == relocateTries || len(top) < size {
			return top[:n]
		}
	}
}
