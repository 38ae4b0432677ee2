package scheduler

import (
	"cmp"
	"slices"
)

// This file splits a data group's blocks among its VMs once their hosts
// are known (assignBlocks), and keeps the node-local matching that the
// choice of those hosts (group.go) grows one VM at a time.
//
// The model. Each block goes to exactly one VM; a VM is given at most
// shareCap bytes: its fair share ceil(total/n) plus less than one block.
// That slack is what makes whole blocks always fit: while a block of b
// bytes is left, the n VMs have more than n(largest-1) bytes of room
// between them, so one of them has room for it. For blocks of one size
// the cap is ceil(blocks/n) blocks per VM.
//
// A block is node-local when its VM's host holds a replica, rack-local
// when the host's rack does. The split maximises node-local bytes, then
// rack-local bytes, then fills the rest:
//
//  1. node-local: a maximum b-matching of blocks to hosts, by augmenting
//     paths. A host's VMs are one bin (any of them makes a block
//     node-local). For each block, largest first, a breadth-first search
//     looks for a VM with room on a host holding it; if the VMs there are
//     full, it moves one of their node-local blocks to another of that
//     block's hosts, and so on (an augmenting path). For blocks of one
//     size this is Ford-Fulkerson on the unit-capacity network source ->
//     block -> host -> sink (capacity: the host's VMs times the cap in
//     blocks), so the matching is maximum. Mixed sizes make it a
//     heuristic: a search needs room for the block it carries.
//  2. rack-local: the same over racks, for the blocks left, moving only
//     rack-local blocks.
//  3. the rest: largest first, each to the VM with the most room.
//
// A search that fails marks the bins it saw dead for blocks at least as
// large: with blocks of one size nothing can enter that region later
// (its VMs are full and its blocks can only move within it) as long as
// no room is added, so a region costs one failed search per round (a
// round ends when room may have been added: newRound). Cost: O(B x E) in
// the worst case for B blocks and E block replicas, O(E) per failed
// search; in practice most blocks find room at once.

// How a VM holds a block.
const (
	heldNone uint8 = iota
	heldNode       // on a host holding a replica
	heldRack       // in a rack holding a replica
	heldFill       // anywhere with room
)

// shareCap is the most bytes one VM of a group of n is given: the fair
// share ceil(total/n) plus largest-1 (less than one block).
func shareCap(total, largest int64, n int) int64 {
	if n <= 0 {
		return 0
	}
	return (total+int64(n)-1)/int64(n) + max(0, largest-1)
}

// matcher is an assignment of a group's blocks to its VMs.
type matcher struct {
	bs     *blockSet
	cap    int64   // bytes per VM
	rackOf []int32 // per host index; -1: no rack

	vmHost []int32   // per VM: its host index
	load   []int64   // per VM: bytes held
	vmBlks [][]int32 // per VM: its blocks

	owner []int32 // per block: its VM, -1 none
	pos   []int32 // per block: its index in vmBlks[owner]
	held  []uint8 // per block: how

	hostVMs [][]int32 // per host index: its VMs
	rackVMs [][]int32 // per rack id: its VMs

	// Search scratch.
	epoch    uint32
	seenHost []uint32
	seenRack []uint32
	seenBlk  []uint32
	predBlk  []int32 // block -> the block that enters predVM in its place
	predVM   []int32
	deadHost []int64  // per host: dead for blocks at least this large, if marked in this round
	deadRack []int64  // per rack: the same
	deadEpH  []uint32 // per host: the round of its mark
	deadEpR  []uint32
	round    uint32 // marks of earlier rounds are void (capacity was added since)
	queue    []int32
	touched  []int32
	nodes    []pullNode

	work    int     // blocks looked at by searches, for the local search's budget
	matched int64   // bytes held node-local
	freeOn  []int64 // per host: bytes held by no VM with a replica there
	logging bool
	log     []move // the moves since logging began, for undo
}

// move is one entry of the undo log: block b was held by from, as how.
type move struct {
	b, from int32
	how     uint8
}

func newMatcher(bs *blockSet, shareCap int64, rackOf []int32, racks int) *matcher {
	nb, nh := len(bs.size), len(rackOf)
	m := &matcher{bs: bs, cap: shareCap, rackOf: rackOf,
		owner: make([]int32, nb), pos: make([]int32, nb), held: make([]uint8, nb),
		hostVMs: make([][]int32, nh), rackVMs: make([][]int32, racks),
		seenHost: make([]uint32, nh), seenRack: make([]uint32, racks), seenBlk: make([]uint32, nb),
		predBlk: make([]int32, nb), predVM: make([]int32, nb),
		deadHost: make([]int64, nh), deadRack: make([]int64, racks),
		deadEpH: make([]uint32, nh), deadEpR: make([]uint32, racks), round: 1}
	m.freeOn = make([]int64, nh)
	for b := range m.owner {
		m.owner[b] = -1
		for _, h := range bs.hosts[b] {
			m.freeOn[h] += bs.size[b]
		}
	}
	return m
}

// addVM adds an empty VM on host i and returns its index.
func (m *matcher) addVM(i int32) int32 {
	v := int32(len(m.vmHost))
	m.vmHost = append(m.vmHost, -1)
	m.load = append(m.load, 0)
	m.vmBlks = append(m.vmBlks, nil)
	m.attach(v, i)
	return v
}

// dropLastVM removes the last VM added, which must hold nothing.
func (m *matcher) dropLastVM() {
	v := int32(len(m.vmHost) - 1)
	m.detach(v)
	m.vmHost, m.load, m.vmBlks = m.vmHost[:v], m.load[:v], m.vmBlks[:v]
}

// attach puts VM v (on no host) on host i; detach takes it off its host.
// Its blocks stay with it.
func (m *matcher) attach(v, i int32) {
	m.vmHost[v] = i
	m.hostVMs[i] = append(m.hostVMs[i], v)
	if r := m.rackOf[i]; r >= 0 {
		m.rackVMs[r] = append(m.rackVMs[r], v)
	}
}

func (m *matcher) detach(v int32) {
	i := m.vmHost[v]
	m.hostVMs[i] = deleteValue(m.hostVMs[i], v)
	if r := m.rackOf[i]; r >= 0 {
		m.rackVMs[r] = deleteValue(m.rackVMs[r], v)
	}
	m.vmHost[v] = -1
}

func deleteValue(s []int32, x int32) []int32 {
	if k := slices.Index(s, x); k >= 0 {
		return slices.Delete(s, k, k+1)
	}
	return s
}

func (m *matcher) room(v int32) int64 { return m.cap - m.load[v] }

// put gives block b to VM v (-1: to none), taking it from its holder.
func (m *matcher) put(b, v int32, how uint8) {
	if m.logging {
		m.log = append(m.log, move{b: b, from: m.owner[b], how: m.held[b]})
	}
	if m.held[b] == heldNode {
		m.matched -= m.bs.size[b]
	}
	if how == heldNode && v >= 0 {
		m.matched += m.bs.size[b]
	}
	if (m.owner[b] < 0) != (v < 0) {
		d := m.bs.size[b]
		if v >= 0 {
			d = -d
		}
		for _, h := range m.bs.hosts[b] {
			m.freeOn[h] += d
		}
	}
	if o := m.owner[b]; o >= 0 {
		blks := m.vmBlks[o]
		last := blks[len(blks)-1]
		blks[m.pos[b]] = last
		m.pos[last] = m.pos[b]
		m.vmBlks[o] = blks[:len(blks)-1]
		m.load[o] -= m.bs.size[b]
	}
	m.owner[b], m.held[b] = v, how
	if v >= 0 {
		m.pos[b] = int32(len(m.vmBlks[v]))
		m.vmBlks[v] = append(m.vmBlks[v], b)
		m.load[v] += m.bs.size[b]
	} else {
		m.held[b] = heldNone
	}
}

// undo reverts the logged moves and stops logging.
func (m *matcher) undo() {
	m.undoTo(0)
	m.logging = false
}

// undoTo reverts the moves logged after the log had mark entries.
func (m *matcher) undoTo(mark int) {
	logging := m.logging
	m.logging = false
	for k := len(m.log) - 1; k >= mark; k-- {
		mv := m.log[k]
		m.put(mv.b, mv.from, mv.how)
	}
	m.log = m.log[:mark]
	m.logging = logging
}

// keep forgets the logged moves and stops logging.
func (m *matcher) keep() { m.logging, m.log = false, m.log[:0] }

// roomiest is the VM of vms with the most room (the first on ties).
func (m *matcher) roomiest(vms []int32) int32 {
	best := vms[0]
	for _, v := range vms[1:] {
		if m.load[v] < m.load[best] {
			best = v
		}
	}
	return best
}

// augment looks for an augmenting path that gives block x (held by no
// VM) to a VM near it, as how (heldNode: over hosts; heldRack: over
// racks), moving only blocks held the same way. It reports whether it
// found one (and applied it).
func (m *matcher) augment(x int32, how uint8) bool {
	m.epoch++
	ep := m.epoch
	q := append(m.queue[:0], x)
	m.touched = m.touched[:0]
	m.seenBlk[x], m.predBlk[x] = ep, -1
	for k := 0; k < len(q); k++ {
		y := q[k]
		m.work++
		for _, bin := range m.bins(y, how) {
			seen, dead, deadEp, vms := m.bin(bin, how)
			if seen[bin] == ep || (deadEp[bin] == m.round && m.bs.size[x] >= dead[bin]) || len(vms) == 0 {
				continue
			}
			seen[bin] = ep
			m.touched = append(m.touched, bin)
			if v := m.roomiest(vms); m.room(v) >= m.bs.size[y] {
				m.queue = q
				m.shift(y, v, how)
				return true
			}
			for _, v := range vms {
				for _, z := range m.vmBlks[v] {
					if m.held[z] != how || m.seenBlk[z] == ep || m.room(v)+m.bs.size[z] < m.bs.size[y] {
						continue
					}
					m.seenBlk[z], m.predBlk[z], m.predVM[z] = ep, y, v
					q = append(q, z)
				}
			}
		}
	}
	m.queue = q
	for _, bin := range m.touched {
		_, dead, deadEp, _ := m.bin(bin, how)
		if deadEp[bin] != m.round || m.bs.size[x] < dead[bin] {
			dead[bin], deadEp[bin] = m.bs.size[x], m.round
		}
	}
	return false
}

// newRound voids the dead marks: call it when room may have been added.
func (m *matcher) newRound() { m.round++ }

// shift applies an augmenting path found by augment: y goes to v, and
// each block displaced along the path makes room for its predecessor.
func (m *matcher) shift(y, v int32, how uint8) {
	m.put(y, v, how)
	for z := y; m.predBlk[z] >= 0; z = m.predBlk[z] {
		m.put(m.predBlk[z], m.predVM[z], how)
	}
}

func (m *matcher) bins(b int32, how uint8) []int32 {
	if how == heldNode {
		return m.bs.hosts[b]
	}
	return m.bs.racks[b]
}

func (m *matcher) bin(i int32, how uint8) (seen []uint32, dead []int64, deadEp []uint32, vms []int32) {
	if how == heldNode {
		return m.seenHost, m.deadHost, m.deadEpH, m.hostVMs[i]
	}
	return m.seenRack, m.deadRack, m.deadEpR, m.rackVMs[i]
}

// pullNode is a VM reached by pull: room it would have once via (the
// block it gives to its parent node) has left it.
type pullNode struct {
	vm     int32
	room   int64
	via    int32
	parent int32
}

// pull is augment run backwards from VM v, which has room: it looks for
// a block held by no VM that can become node-local on v, directly or by
// moving node-local blocks of other hosts onto v's host and the hosts
// they free. It applies the path and returns the bytes of the block it
// brought in, and whether it found one. When
// the matching was maximum before v was added (every search from a free
// block failed), paths ending at v are the only ones left, so repeating
// pull until it fails keeps the matching maximum (for blocks of one
// size).
func (m *matcher) pull(v int32) (int64, bool) {
	m.epoch++
	ep := m.epoch
	nodes := append(m.nodes[:0], pullNode{vm: v, room: m.room(v), via: -1, parent: -1})
	m.seenHost[m.vmHost[v]] = ep
	defer func() { m.nodes = nodes[:0] }()
	for k := 0; k < len(nodes); k++ {
		n := nodes[k]
		m.work += len(m.bs.onHost[m.vmHost[n.vm]])
		for _, y := range m.bs.onHost[m.vmHost[n.vm]] {
			if m.bs.size[y] > n.room {
				continue
			}
			o := m.owner[y]
			if o < 0 {
				m.pullPath(nodes, int32(k), y)
				return m.bs.size[y], true
			}
			if m.held[y] != heldNode || m.seenHost[m.vmHost[o]] == ep {
				continue
			}
			m.seenHost[m.vmHost[o]] = ep
			nodes = append(nodes, pullNode{vm: o, room: m.room(o) + m.bs.size[y], via: y, parent: int32(k)})
		}
	}
	return 0, false
}

// pullPath applies a path found by pull: from the root down, each node's
// via block moves to its parent's VM, then y to the last node's VM.
func (m *matcher) pullPath(nodes []pullNode, k, y int32) {
	path := m.queue[:0]
	for n := k; n > 0; n = nodes[n].parent {
		path = append(path, n)
	}
	for i := len(path) - 1; i >= 0; i-- {
		n := nodes[path[i]]
		m.put(n.via, nodes[n.parent].vm, heldNode)
	}
	m.queue = path
	m.put(y, nodes[k].vm, heldNode)
}

// grow fills VM v with node-local blocks by pulls and returns the
// node-local bytes the group gained: those of the blocks brought in.
func (m *matcher) grow(v int32) int64 {
	gain := int64(0)
	for m.room(v) > 0 {
		g, ok := m.pull(v)
		if !ok {
			break
		}
		gain += g
	}
	return gain
}

// bySize is the blocks, largest first, then by index.
func (m *matcher) bySize() []int32 {
	order := make([]int32, len(m.bs.size))
	for b := range order {
		order[b] = int32(b)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return cmp.Compare(m.bs.size[b], m.bs.size[a]) })
	return order
}

// complete matches the blocks no VM holds, node-local first, then
// rack-local, then the rest to the VMs with the most room.
func (m *matcher) complete() {
	order := m.bySize()
	for _, b := range order {
		if m.owner[b] < 0 && len(m.bs.hosts[b]) > 0 {
			m.augment(b, heldNode)
		}
	}
	for _, b := range order {
		if m.owner[b] < 0 && len(m.bs.racks[b]) > 0 {
			m.augment(b, heldRack)
		}
	}
	if len(m.vmHost) == 0 {
		return
	}
	all := make([]int32, len(m.vmHost))
	for v := range all {
		all[v] = int32(v)
	}
	for _, b := range order {
		if m.owner[b] < 0 {
			m.put(b, m.roomiest(all), heldFill)
		}
	}
}

// vmShare is what one VM of a group was given.
type vmShare struct {
	blocks                 []int
	requested, local, rack int64
}

// shares reads the assignment back, per VM, counting node- and
// rack-local bytes by where the VM is (not by how the block got there).
func (m *matcher) shares() []vmShare {
	out := make([]vmShare, len(m.vmHost))
	for v := range out {
		s := &out[v]
		i := m.vmHost[v]
		s.blocks = make([]int, 0, len(m.vmBlks[v]))
		for _, b := range m.vmBlks[v] {
			s.blocks = append(s.blocks, int(b))
			size := m.bs.size[b]
			s.requested += size
			switch {
			case slices.Contains(m.bs.hosts[b], i):
				s.local += size
			case m.rackOf[i] >= 0 && slices.Contains(m.bs.racks[b], m.rackOf[i]):
				s.rack += size
			}
		}
		slices.Sort(s.blocks)
	}
	return out
}

// assignBlocks splits bs among VMs on the given hosts (host indexes, one
// per VM): each block to one VM, at most shareCap bytes each, node-local
// bytes maximised, then rack-local bytes.
func assignBlocks(bs *blockSet, hosts []int32, rk *racks) []vmShare {
	m := newMatcher(bs, shareCap(bs.total, bs.largest, len(hosts)), rk.rackOf, len(rk.hosts))
	for _, i := range hosts {
		m.addVM(i)
	}
	m.complete()
	return m.shares()
}
