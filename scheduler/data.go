package scheduler

import (
	"cmp"
	"slices"
)

// This file resolves a request's Data against the snapshot (host ids to
// host indexes, racks to rack ids) and places an ungrouped request with
// data: ScoreLocality ranks its candidates, and the hosts holding its
// bytes, then the hosts of the racks holding them, are added to the
// candidates the usual search found.

// racks numbers the snapshot's racks, built on first use: rackOf is the
// rack id of each host (-1 when its Rack is ""), hosts the hosts of each
// rack in snapshot order.
type racks struct {
	rackOf []int32
	hosts  [][]int32
}

func (p *placer) racks() *racks {
	if p.rackIndex != nil {
		return p.rackIndex
	}
	x := &racks{rackOf: make([]int32, len(p.hosts))}
	ids := map[string]int32{}
	for i := range p.hosts {
		name := p.hosts[i].Rack
		if name == "" {
			x.rackOf[i] = -1
			continue
		}
		id, ok := ids[name]
		if !ok {
			id = int32(len(x.hosts))
			ids[name] = id
			x.hosts = append(x.hosts, nil)
		}
		x.rackOf[i] = id
		x.hosts[id] = append(x.hosts[id], int32(i))
	}
	p.rackIndex = x
	return x
}

// blockSet is a Data's blocks resolved against the snapshot.
type blockSet struct {
	size    []int64   // bytes, at least 0
	hosts   [][]int32 // per block: the hosts holding a replica (indexes, no duplicates)
	racks   [][]int32 // per block: the racks holding a replica (ids, no duplicates)
	onHost  [][]int32 // per host: the blocks with a replica there (nil for most)
	total   int64
	largest int64
}

// blockSet resolves d, once per call and Data.
func (p *placer) blockSet(d *Data) *blockSet {
	if bs, ok := p.resolved[d]; ok {
		return bs
	}
	rk := p.racks()
	n := len(d.Blocks)
	bs := &blockSet{size: make([]int64, n), hosts: make([][]int32, n), racks: make([][]int32, n),
		onHost: make([][]int32, len(p.hosts))}
	for b, blk := range d.Blocks {
		s := max(0, blk.Bytes)
		bs.size[b] = s
		bs.total += s
		bs.largest = max(bs.largest, s)
		for _, id := range blk.Hosts {
			i, ok := p.hostIndex(id)
			if !ok || slices.Contains(bs.hosts[b], i) {
				continue
			}
			bs.hosts[b] = append(bs.hosts[b], i)
			bs.onHost[i] = append(bs.onHost[i], int32(b))
			if r := rk.rackOf[i]; r >= 0 && !slices.Contains(bs.racks[b], r) {
				bs.racks[b] = append(bs.racks[b], r)
			}
		}
	}
	if p.resolved == nil {
		p.resolved = map[*Data]*blockSet{}
	}
	p.resolved[d] = bs
	return bs
}

// dataView is an ungrouped request's data seen per host and per rack.
type dataView struct {
	total  int64
	onHost map[int32]int64 // host index -> bytes with a replica there
	inRack []int64         // rack id -> bytes with a replica in the rack (each block once)
	hosts  []int32         // the hosts of onHost, most bytes first
	racks  []int32         // the racks with bytes, most bytes first
}

// local and rackOnly are the bytes on host i, and in its rack but not on it.
func (v *dataView) local(i int32) int64 { return v.onHost[i] }

func (v *dataView) rackOnly(i int32, rk *racks) int64 {
	r := rk.rackOf[i]
	if r < 0 {
		return 0
	}
	return v.inRack[r] - v.onHost[i]
}

// dataView builds (once per call and Data) the view of an ungrouped request.
func (p *placer) dataView(d *Data) *dataView {
	if v, ok := p.views[d]; ok {
		return v
	}
	bs, rk := p.blockSet(d), p.racks()
	v := &dataView{total: bs.total, onHost: map[int32]int64{}, inRack: make([]int64, len(rk.hosts))}
	for b, hs := range bs.hosts {
		for _, i := range hs {
			v.onHost[i] += bs.size[b]
		}
		for _, r := range bs.racks[b] {
			v.inRack[r] += bs.size[b]
		}
	}
	for i := range v.onHost {
		v.hosts = append(v.hosts, i)
	}
	slices.SortFunc(v.hosts, func(a, b int32) int {
		return cmp.Or(cmp.Compare(v.onHost[b], v.onHost[a]), cmp.Compare(a, b))
	})
	for r, n := range v.inRack {
		if n > 0 {
			v.racks = append(v.racks, int32(r))
		}
	}
	slices.SortFunc(v.racks, func(a, b int32) int {
		return cmp.Or(cmp.Compare(v.inRack[b], v.inRack[a]), cmp.Compare(a, b))
	})
	if p.views == nil {
		p.views = map[*Data]*dataView{}
	}
	p.views[d] = v
	return v
}

// collectData adds to the candidates of an ungrouped request with data up
// to p.limit feasible hosts holding its bytes, most bytes first, then up
// to p.limit feasible hosts of the racks holding the most bytes, so that
// the hosts ScoreLocality favours are among those scored whatever the
// sample drew. Hosts already candidates are not added twice.
func (p *placer) collectData(j *job) {
	v := j.data
	p.stamp++
	if p.seen == nil {
		p.seen = make([]uint32, len(p.hosts))
	}
	for _, i := range p.cands {
		p.seen[i] = p.stamp
	}
	try := func(i int32) bool {
		if p.seen[i] == p.stamp {
			return false
		}
		p.seen[i] = p.stamp
		if p.check(i, j) != OK {
			return false
		}
		p.cands = append(p.cands, i)
		return true
	}
	found := 0
	for _, i := range v.hosts {
		if found >= p.limit {
			break
		}
		if try(i) {
			found++
		}
	}
	rk := p.racks()
	found = 0
	for _, r := range v.racks {
		for _, i := range rk.hosts[r] {
			if found >= p.limit {
				return
			}
			if try(i) {
				found++
			}
		}
	}
}
