package scheduler

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

const mib = 1 << 20

// dfsWorld is a simulated cluster with a distributed file system on its
// hosts, for the locality benchmark and property tests.
type dfsWorld struct {
	snap *Snapshot
	data *Data
}

// dfsSpec describes a dfsWorld.
type dfsSpec struct {
	hosts, racks  int
	cores, memory int   // per host (MiB)
	blocks        int   // about this many blocks, in files of 500-2,000
	blockSize     int64 // bytes; each file's last block is shorter
	usedPct       int   // percentage of hosts already partly used
	offPct        int   // percentage of hosts drained or down
}

// newDFSWorld builds the cluster and the files. Replicas are placed the
// HDFS way, at replication 3: the first on a random host, the other two
// on two hosts of one other rack.
func newDFSWorld(spec dfsSpec, seed uint64) dfsWorld {
	rng := rand.New(rand.NewPCG(seed, 0xdf5))
	per := spec.hosts / spec.racks
	s := &Snapshot{Hosts: make([]Host, spec.hosts)}
	for i := range s.Hosts {
		r := i / per
		h := Host{ID: int64(i + 1), Name: fmt.Sprintf("r%02dh%02d", r, i%per), Up: true,
			Cores: spec.cores, Memory: spec.memory, Rack: fmt.Sprintf("rack%02d", r)}
		if rng.IntN(100) < spec.usedPct {
			h.UsedCores = 1 + rng.IntN(spec.cores*3/4)
			h.UsedMemory = h.UsedCores * spec.memory / spec.cores
		}
		if rng.IntN(100) < spec.offPct {
			if rng.IntN(2) == 0 {
				h.State = HostDrained
			} else {
				h.Up = false
			}
		}
		s.Hosts[i] = h
	}
	d := &Data{Group: true}
	for len(d.Blocks) < spec.blocks {
		n := min(500+rng.IntN(1501), spec.blocks-len(d.Blocks))
		for k := range n {
			size := spec.blockSize
			if k == n-1 {
				size = 1 + rng.Int64N(spec.blockSize)
			}
			d.Blocks = append(d.Blocks, Block{Bytes: size, Hosts: hdfsReplicas(rng, spec.hosts, per)})
		}
	}
	return dfsWorld{snap: s, data: d}
}

// hdfsReplicas: one random host, then two distinct hosts of one other rack.
func hdfsReplicas(rng *rand.Rand, hosts, per int) []int64 {
	first := rng.IntN(hosts)
	racks := hosts / per
	other := (first/per + 1 + rng.IntN(racks-1)) % racks
	a := rng.IntN(per)
	b := (a + 1 + rng.IntN(per-1)) % per
	return []int64{int64(first + 1), int64(other*per + a + 1), int64(other*per + b + 1)}
}

// createMany is n Pending VMs of 1-2 cores (4 GiB a core) in group 7,
// sharing the world's data.
func (w dfsWorld) createMany(n int, seed uint64, extra ...string) []Request {
	rng := rand.New(rand.NewPCG(seed, 0xc1))
	reqs := make([]Request, n)
	for k := range reqs {
		c := 1 + rng.IntN(2)
		reqs[k] = reqN(int64(1000+k), c, 4096*c, group(7), hints(extra...))
		reqs[k].Data = w.data
	}
	return reqs
}

// boundOf is the bound instance of a data group on a snapshot: every
// host's slots are how many of the smallest members fit on it (cores and
// memory, separately), 0 for a host that is not up and Normal or is
// reserved for others.
func boundOf(snap *Snapshot, reqs []Request, d *Data) boundInstance {
	p := newPlacer(snap, nil)
	bs := p.blockSet(d)
	cores := make([]int, len(reqs))
	mem := make([]int, len(reqs))
	for k, r := range reqs {
		cores[k], mem[k] = r.Cores, r.Memory
	}
	slices.Sort(cores)
	slices.Sort(mem)
	in := boundInstance{size: bs.size, hosts: bs.hosts, slots: make([]int, len(snap.Hosts)), n: len(reqs),
		cap: shareCap(bs.total, bs.largest, len(reqs))}
	for i := range snap.Hosts {
		h := &snap.Hosts[i]
		if hostState(h) != OK || (len(reqs) > 0 && reservation(h, reqs[0].User) != OK) {
			continue
		}
		in.slots[i] = min(fitCount(cores, h.Cores-h.UsedCores), fitCount(mem, h.Memory-h.UsedMemory))
	}
	return in
}

// fitCount is how many of the sorted sizes fit, smallest first, in free.
func fitCount(sorted []int, free int) int {
	n := 0
	for _, s := range sorted {
		if free < s {
			break
		}
		free -= s
		n++
	}
	return n
}

// groupTotals adds up the group's placements.
type groupTotals struct {
	placed                 int
	requested, local, rack int64
}

func totalsOf(res Result) groupTotals {
	var t groupTotals
	for _, pl := range res.Placements {
		t.placed++
		t.requested += pl.RequestedBytes
		t.local += pl.LocalBytes
		t.rack += pl.RackBytes
	}
	return t
}

// dataInstance is a random cluster with racks and a distributed file
// system, and a data group of members sharing its blocks (a gang or not),
// for the property tests.
type dataInstance struct {
	snap *Snapshot
	reqs []Request // the group first, then, when mixed, other requests
	data *Data
	gang bool
}

// randomDataInstance: 4-60 hosts in 1-6 racks (some hosts without a
// rack), some down, drained or reserved, most partly used; 0-300 blocks
// of mostly one size, replicated 1-3 times the HDFS way; 1-30 members of
// 1-4 cores. With mixed, other requests (some with their own data) and
// affinity hints join in.
func randomDataInstance(seed uint64, mixed bool) dataInstance {
	g := newGen(seed)
	rng := g.rng
	nh := 4 + rng.IntN(57)
	nr := 1 + rng.IntN(6)
	s := &Snapshot{}
	for i := range nh {
		cores := []int{4, 8, 16}[rng.IntN(3)]
		h := hostN(fmt.Sprintf("h%d", i+1), cores, cores*4096)
		h.Rack = fmt.Sprintf("rack%d", i%nr)
		if g.pct(5) {
			h.Rack = ""
		}
		if g.pct(70) {
			h.UsedCores = rng.IntN(cores)
			h.UsedMemory = h.UsedCores * 4096
		}
		switch {
		case g.pct(5):
			h.Up = false
		case g.pct(5):
			h.State = HostDrained
		case g.pct(4):
			h.ReservedFor = []int64{2}
		}
		s.Hosts = append(s.Hosts, h)
	}
	s.Policy = Policy{DensePack: g.pct(50), CandidateLimit: []int{0, 0, 2, -1}[rng.IntN(4)]}
	size := int64(64 * mib)
	if g.pct(20) {
		size = int64(1 + rng.IntN(1000))
	}
	d := &Data{Group: true}
	repl := 1 + rng.IntN(3)
	for range rng.IntN(301) {
		b := Block{Bytes: size}
		if g.pct(10) {
			b.Bytes = 1 + rng.Int64N(size)
		}
		first := rng.IntN(nh)
		b.Hosts = append(b.Hosts, s.Hosts[first].ID)
		for len(b.Hosts) < repl && len(b.Hosts) < nh {
			h := s.Hosts[rng.IntN(nh)].ID
			if !slices.Contains(b.Hosts, h) {
				b.Hosts = append(b.Hosts, h)
			}
		}
		if g.pct(3) {
			b.Hosts = append(b.Hosts, 9999) // a storage host Tashi does not know
		}
		d.Blocks = append(d.Blocks, b)
	}
	in := dataInstance{snap: s, data: d, gang: g.pct(50)}
	extra := []string{}
	if in.gang {
		extra = append(extra, "gang=true")
	}
	if mixed && g.pct(30) {
		extra = append(extra, "antiAffinity=web:soft")
	}
	for k := range 1 + rng.IntN(30) {
		c := 1 + rng.IntN(4)
		r := reqN(int64(100+k), c, 4096*c, group(7), hints(extra...))
		r.Data = d
		in.reqs = append(in.reqs, r)
	}
	if mixed {
		for _, r := range g.requests(s) {
			if r.Group == 7 {
				r.Group = 8
			}
			if g.pct(20) {
				r.Data = &Data{Blocks: d.Blocks[:rng.IntN(len(d.Blocks)+1)]}
			}
			in.reqs = append(in.reqs, r)
		}
	}
	return in
}
