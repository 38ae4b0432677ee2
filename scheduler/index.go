package scheduler

// usage is what this Place call has added to one host.
type usage struct{ cores, memory int32 }

// usedCores and usedMemory are host i's usage: the snapshot's plus this
// call's placements. Place reads the hosts in place and keeps only these
// deltas, so a call costs almost nothing per host it does not look at.
func (p *placer) usedCores(i int32) int  { return p.hosts[i].UsedCores + int(p.added[i].cores) }
func (p *placer) usedMemory(i int32) int { return p.hosts[i].UsedMemory + int(p.added[i].memory) }
func (p *placer) freeCores(i int32) int  { return max(0, p.hosts[i].Cores-p.usedCores(i)) }

// freeIndex groups the hosts that pass hostState by free cores. A
// densePack request for c cores walks the buckets upwards from c: the
// tightest fits first, never touching a host with fewer free cores, which
// in a packed cluster is most of them. Moving a host between buckets is
// O(1) (swap-remove), so the index follows every placement in a call. It
// is built, in O(hosts), on the first densePack request of a call.
type freeIndex struct {
	buckets  [][]int32 // free cores -> host indexes
	bucket   []int32   // host -> its bucket, -1 when not indexed
	pos      []int32   // host -> its position in its bucket
	unusable tally     // the hosts left out, by hostState's reason
	reserved []int32   // the indexed hosts with a reservation list
}

// freeIndex returns the call's index, building it on first use.
func (p *placer) freeIndex() *freeIndex {
	if p.index == nil {
		p.index = newFreeIndex(p)
	}
	return p.index
}

// anyFree reports whether some usable host has at least c free cores.
func (x *freeIndex) anyFree(c int) bool {
	for ; c < len(x.buckets); c++ {
		if len(x.buckets[c]) > 0 {
			return true
		}
	}
	return false
}

// newFreeIndex files the usable hosts. One pass over the hosts notes each
// one's bucket and sizes the buckets; a second, over those notes only,
// fills them, so building allocates a handful of times whatever the
// number of hosts.
func newFreeIndex(p *placer) *freeIndex {
	x := &freeIndex{bucket: make([]int32, len(p.hosts)), pos: make([]int32, len(p.hosts))}
	top := 0 // free cores never exceed a host's cores, even after a gang's undo
	count := make([]int, 0, 129)
	for i := range p.hosts {
		h := &p.hosts[i]
		if why := hostState(h); why != OK {
			x.unusable[why]++
			x.bucket[i] = -1
			continue
		}
		top = max(top, h.Cores)
		f := p.freeCores(int32(i))
		for len(count) <= f {
			count = append(count, 0)
		}
		count[f]++
		x.bucket[i] = int32(f)
		if len(h.ReservedFor) > 0 {
			x.reserved = append(x.reserved, int32(i))
		}
	}
	x.buckets = make([][]int32, top+1)
	flat := make([]int32, len(p.hosts))
	off := 0
	for b, c := range count {
		x.buckets[b] = flat[off : off : off+c] // capped: a bucket that grows moves out
		off += c
	}
	for i, b := range x.bucket {
		if b >= 0 {
			x.pos[i] = int32(len(x.buckets[b]))
			x.buckets[b] = append(x.buckets[b], int32(i))
		}
	}
	return x
}

func (x *freeIndex) add(i int32, free int) {
	b := min(free, len(x.buckets)-1)
	x.bucket[i], x.pos[i] = int32(b), int32(len(x.buckets[b]))
	x.buckets[b] = append(x.buckets[b], i)
}

func (x *freeIndex) remove(i int32) {
	b := x.buckets[x.bucket[i]]
	last := b[len(b)-1]
	b[x.pos[i]] = last
	x.pos[last] = x.pos[i]
	x.buckets[x.bucket[i]] = b[:len(b)-1]
	x.bucket[i] = -1
}

// update re-files host i, which now has free cores free.
func (x *freeIndex) update(i int32, free int) {
	if x.bucket[i] < 0 || int(x.bucket[i]) == min(free, len(x.buckets)-1) {
		return
	}
	x.remove(i)
	x.add(i, free)
}
