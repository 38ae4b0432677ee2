package scheduler

import (
	"cmp"
	"slices"
)

// The optimum the group assignment is measured against. Choosing the
// hosts of N VMs so that the best split of the blocks is as node-local as
// possible is NP-hard (max coverage is a special case), so the benchmark
// and the property tests compare with an upper bound: the optimum of a
// fractional relaxation, computed exactly with max-flows.
//
// The instance: blocks of size s_b with replica hosts; host h can take at
// most slots_h of the group's VMs (free cores and memory, for the
// smallest members); N VMs in all, each given at most Q bytes
// (shareCap). Any integral solution with k_h VMs on host h makes at most
// min(L_h, k_h Q) bytes node-local on h, where L_h is the bytes with a
// replica on h.
//
// (Q below is, per host, the most bytes of whole blocks of that host a VM
// can hold within its cap: wholeCap.)
//
// The plain relaxation (the "naive" bound) lets k_h be fractional:
// f_h <= Q k_h, sum k_h <= N. It is a max-flow (source -> block -> host
// -> collector of capacity NQ -> sink, host capacity Q slots_h) but a
// weak bound: when Q exceeds L_h, a fraction L_h/Q of a VM on many hosts
// "reads" everything locally, which no integral solution can.
//
// The relaxation used instead replaces min(L_h, k Q) by its concave
// envelope over integer k: VM j on host h is a slot with capacity
// c_hj = min(Q, L_h - (j-1)Q) (> 0), opened to a fraction y_hj in 0..1,
// with f_hj <= c_hj y_hj and sum y <= N. Every integral solution is
// feasible in it, so its optimum bounds them all. It is solved exactly:
// dualising the budget with a multiplier lambda >= 0 gives
//
//	UB(lambda) = lambda N + max over flows of sum_hj (1 - lambda/c_hj) f_hj
//
// and by LP duality the optimum is the minimum of UB. For a fixed lambda
// the inner maximum is a linear function over the polymatroid of flows
// into the slots, so the greedy algorithm is exact: open the slots in
// decreasing weight, that is decreasing c_hj whatever lambda is, and each
// slot's flow is the increase of the max-flow when it opens (computed
// incrementally with augmenting paths). UB is convex and piecewise linear
// in lambda with breakpoints at the c_hj, so its minimum is at one of
// them (or 0).

// boundInstance is a group assignment problem, in host indexes.
type boundInstance struct {
	size  []int64
	hosts [][]int32 // per block: the hosts holding a replica
	slots []int     // per host: VMs of the group it can take
	n     int       // VMs
	cap   int64     // bytes per VM
}

type bound struct {
	lp    float64 // the strengthened relaxation's optimum: the "optimum" of the tables
	naive float64 // the plain relaxation's
	flow  int64   // the max-flow with every slot open and no budget
}

// wholeCap is the most bytes of whole blocks of the given sizes one VM
// of cap bytes can hold: their largest sum within cap. A VM's node-local
// bytes on host h are whole blocks held on h, so the bounds give a VM on
// h wholeCap(h's blocks) rather than cap (a VM of cap 1.8 blocks holds
// one block of h, not 1.8). It is exact when the sizes other than the
// most common one are few (blocks of one size and the files' last
// blocks); otherwise it is cap, still an upper bound.
func wholeCap(sizes []int64, cap int64) int64 {
	count := map[int64]int{}
	for _, s := range sizes {
		count[s]++
	}
	var common int64
	for s, c := range count {
		if c > count[common] || (c == count[common] && s > common) {
			common = s
		}
	}
	var rare []int64
	for s, c := range count {
		if s != common {
			for range c {
				rare = append(rare, s)
			}
		}
	}
	if len(rare) > 16 || common <= 0 {
		return cap
	}
	best := int64(0)
	for mask := 0; mask < 1<<len(rare); mask++ {
		sum := int64(0)
		for k, s := range rare {
			if mask&(1<<k) != 0 {
				sum += s
			}
		}
		if sum <= cap {
			best = max(best, sum+min(int64(count[common]), (cap-sum)/common)*common)
		}
	}
	return best
}

// hostCaps are, per host, the bytes held there and wholeCap of its blocks.
func (in boundInstance) hostCaps() (held, caps []int64) {
	held, caps = make([]int64, len(in.slots)), make([]int64, len(in.slots))
	sizes := make([][]int64, len(in.slots))
	for b, hs := range in.hosts {
		for _, h := range hs {
			held[h] += in.size[b]
			sizes[h] = append(sizes[h], in.size[b])
		}
	}
	for h := range caps {
		caps[h] = wholeCap(sizes[h], in.cap)
	}
	return held, caps
}

func (in boundInstance) bound() bound {
	held, caps := in.hostCaps()
	type slot struct {
		h int32
		c int64
	}
	var slots []slot
	for h, k := range in.slots {
		for j := range min(k, in.n) {
			if c := min(caps[h], held[h]-int64(j)*caps[h]); c > 0 {
				slots = append(slots, slot{int32(h), c})
			}
		}
	}
	slices.SortStableFunc(slots, func(a, b slot) int { return cmp.Compare(b.c, a.c) })
	net := newFlowNet(in.size, in.hosts, len(in.slots))
	gains := make([]int64, len(slots))
	for k, s := range slots {
		gains[k] = net.raise(s.h, s.c)
	}
	out := bound{flow: net.value, lp: float64(net.value)} // lambda = 0
	for _, s := range slots {
		lambda := float64(s.c)
		ub := lambda * float64(in.n)
		for k, t := range slots {
			if t.c > s.c {
				ub += (1 - lambda/float64(t.c)) * float64(gains[k])
			}
		}
		out.lp = min(out.lp, ub)
	}
	plain := newFlowNet(in.size, in.hosts, len(in.slots))
	for h, k := range in.slots {
		if k > 0 {
			plain.raise(int32(h), int64(min(k, in.n))*caps[h])
		}
	}
	out.naive = float64(min(plain.value, int64(in.n)*in.cap))
	return out
}

// flowNet is the network source -> block (capacity its size) -> host
// holding a replica (unbounded) -> sink (capacity raised host by host),
// with its current max-flow.
type flowNet struct {
	size   []int64
	hosts  [][]int32
	onHost [][]int32 // per host: blocks with a replica there
	src    []int64   // per block: flow from the source
	f      [][]int64 // per block, per replica: flow to hosts[b][r]
	in     []int64   // per host: flow to the sink
	cap    []int64   // per host: sink capacity
	value  int64
}

func newFlowNet(size []int64, hosts [][]int32, nHosts int) *flowNet {
	n := &flowNet{size: size, hosts: hosts, onHost: make([][]int32, nHosts), src: make([]int64, len(size)),
		f: make([][]int64, len(size)), in: make([]int64, nHosts), cap: make([]int64, nHosts)}
	for b, hs := range hosts {
		n.f[b] = make([]int64, len(hs))
		for _, h := range hs {
			n.onHost[h] = append(n.onHost[h], int32(b))
		}
	}
	return n
}

// raise adds c to host h's sink capacity and augments the flow until it
// is maximum again; it returns the flow added. Only paths ending at h can
// augment (the flow was maximum before), so the search runs backwards
// from h: a block with a replica on h, fed either by the source or by
// taking its flow off another host, which then takes flow from one of its
// own blocks, and so on (Edmonds-Karp, breadth first).
func (n *flowNet) raise(h int32, c int64) int64 {
	n.cap[h] += c
	added := int64(0)
	for n.in[h] < n.cap[h] {
		d := n.augment(h)
		if d == 0 {
			break
		}
		added += d
	}
	n.value += added
	return added
}

func (n *flowNet) augment(h int32) int64 {
	hostVia := make(map[int32]int32) // host -> block whose flow to it is taken off (-1 at h)
	blockTo := make(map[int32]int32) // block -> host it sends more flow to
	hostVia[h] = -1
	queue := []int32{h}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		for _, b := range n.onHost[x] {
			if _, seen := blockTo[b]; seen {
				continue
			}
			blockTo[b] = x
			if n.src[b] < n.size[b] {
				return n.push(b, blockTo, hostVia, h)
			}
			for r, y := range n.hosts[b] {
				if _, seen := hostVia[y]; !seen && n.f[b][r] > 0 {
					hostVia[y] = b
					queue = append(queue, y)
				}
			}
		}
	}
	return 0
}

// push sends the bottleneck along source -> b -> blockTo[b] -> (off
// hostVia of that host) -> ... -> h -> sink.
func (n *flowNet) push(b int32, blockTo, hostVia map[int32]int32, h int32) int64 {
	d := min(n.size[b]-n.src[b], n.cap[h]-n.in[h])
	for x, y := blockTo[b], int32(0); x != h; x = blockTo[y] {
		y = hostVia[x]
		d = min(d, n.f[y][slices.Index(n.hosts[y], x)])
	}
	n.src[b] += d
	for y := b; ; {
		x := blockTo[y]
		n.f[y][slices.Index(n.hosts[y], x)] += d
		if x == h {
			break
		}
		y = hostVia[x]
		n.f[y][slices.Index(n.hosts[y], x)] -= d
	}
	n.in[h] += d
	return d
}

// lagrangian is a tighter upper bound: relax "each block is read once"
// with a price mu_b in 0..1 per byte of block b, keep the VM counts
// integral. For given prices the problem splits by host: a host with k
// VMs earns, from its own blocks, the best (1-mu_b) per byte over kQ
// bytes (blocks may be cut: a fractional knapsack, a relaxation too), a
// concave function of k, so the best N VMs overall are the N largest
// marginal values, exactly. Then
//
//	L(mu) = sum_b mu_b size_b + the N best marginals
//
// bounds every integral solution, whatever mu is (weak duality). The
// prices are improved by subgradient steps (Polyak's rule towards lower,
// a known solution's value) and the least L found is returned. It includes
// the "a block is local only where a VM is" constraints that the flow
// relaxation lacks, which is why it is tighter.
func (in boundInstance) lagrangian(lower float64, iters int) float64 {
	if len(in.size) == 0 || in.n == 0 {
		return 0
	}
	_, caps := in.hostCaps()
	unit := float64(max(1, slices.Max(in.size)))
	size := make([]float64, len(in.size)) // in largest blocks
	for b, s := range in.size {
		size[b] = float64(s) / unit
	}
	onHost := make([][]int32, len(in.slots))
	for b, hs := range in.hosts {
		for _, h := range hs {
			if in.slots[h] > 0 {
				onHost[h] = append(onHost[h], int32(b))
			}
		}
	}
	mu := make([]float64, len(size))
	used := make([]float64, len(size)) // per block: fraction taken in the inner optimum
	best := float64(0)
	for b := range size {
		best += size[b] // mu = 1: the trivial bound, all bytes
	}
	type marginal struct {
		h     int32
		j     int
		value float64
	}
	var margs []marginal
	theta, stale := 2.0, 0
	order := make([][]int32, len(onHost))
	for it := 0; it < iters; it++ {
		margs = margs[:0]
		for h, blks := range onHost {
			if len(blks) == 0 {
				continue
			}
			o := append(order[h][:0], blks...)
			slices.SortFunc(o, func(a, b int32) int { return cmp.Compare(mu[a], mu[b]) })
			order[h] = o
			// Marginal of VM j: the value of bytes [(j-1)Q_h, jQ_h) of o.
			capU := float64(caps[h]) / unit
			k, off := 0, 0.0 // current block, bytes of it already counted
			for j := 0; j < min(in.slots[h], in.n) && k < len(o); j++ {
				left, v := capU, 0.0
				for left > 1e-12 && k < len(o) {
					b := o[k]
					if mu[b] >= 1 {
						k = len(o)
						break
					}
					take := min(left, size[b]-off)
					v += take * (1 - mu[b])
					left -= take
					if off += take; off >= size[b]-1e-12 {
						k, off = k+1, 0
					}
				}
				if v > 0 {
					margs = append(margs, marginal{int32(h), j, v})
				}
			}
		}
		slices.SortFunc(margs, func(a, b marginal) int { return cmp.Compare(b.value, a.value) })
		take := map[int32]int{} // host -> VMs in the inner optimum
		L := 0.0
		for k := 0; k < min(in.n, len(margs)); k++ {
			L += margs[k].value
			take[margs[k].h] = max(take[margs[k].h], margs[k].j+1)
		}
		for b := range size {
			L += mu[b] * size[b]
			used[b] = 0
		}
		if L < best-1e-9 {
			best, stale = L, 0
		} else if stale++; stale >= 15 {
			theta, stale = theta/2, 0
		}
		// Fractions used: the first take[h]*Q bytes of each host's order.
		for h, k := range take {
			left := float64(k) * float64(caps[h]) / unit
			for _, b := range order[h] {
				if left <= 1e-12 || mu[b] >= 1 {
					break
				}
				f := min(1, left/size[b])
				used[b] += f
				left -= f * size[b]
			}
		}
		norm := 0.0
		for b := range size {
			g := size[b] * (1 - used[b])
			norm += g * g
		}
		if norm < 1e-18 {
			break // the inner optimum uses each block exactly once: L is optimal
		}
		t := theta * max(L-lower/unit, 0.01*L) / norm
		for b := range size {
			mu[b] = min(1, max(0, mu[b]-t*size[b]*(1-used[b])))
		}
	}
	return best * unit
}
