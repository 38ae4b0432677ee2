package scheduler

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// TestLocalityTable prints, as markdown, how node-local a createMany's
// reads are when its VMs are placed at random, when only the blocks are
// split well, and by Place, against upper bounds on the optimum; then
// the same against the exact optimum on small groups; then what that
// means for the time of an I/O-bound scan. Run it with
// TASHI_BENCH=1 go test -run TestLocalityTable -v ./scheduler/
func TestLocalityTable(t *testing.T) {
	if os.Getenv("TASHI_BENCH") != "1" {
		t.Skip("set TASHI_BENCH=1 to measure")
	}
	const seed = 20260601
	spec := dfsSpec{hosts: 1000, racks: 40, cores: 8, memory: 32768, blockSize: 64 * mib, usedPct: 60, offPct: 2}
	fmt.Printf("\nLocality of a createMany (seed %d). %d hosts in %d racks of %d, %d cores and %d GiB each;\n",
		seed, spec.hosts, spec.racks, spec.hosts/spec.racks, spec.cores, spec.memory/1024)
	fmt.Printf("%d%% of them already run 1-%d cores (4 GiB a core), %d%% are drained or down. Files of 500-2,000\n",
		spec.usedPct, spec.cores*3/4, spec.offPct)
	fmt.Println("blocks of 64 MiB (the last one shorter), replication 3 placed the HDFS way: one replica on a")
	fmt.Println("random host, two on two hosts of one other rack. The VMs have 1 or 2 cores (4 GiB a core) and")
	fmt.Println("share the files (Data.Group): each block is read by one VM, each VM reads at most its fair")
	fmt.Println("share plus less than one block. Percentages are of the bytes read.")
	fmt.Println()
	fmt.Println("- random: each VM on a random host with room, the blocks split in order, in equal runs.")
	fmt.Println("- random + split: the same hosts, the blocks split by Place's matching (assignBlocks).")
	fmt.Println("- Place: hosts and split by Place.")
	fmt.Println("- LP bound: the optimum of the fractional relaxation (concave envelope of each host's")
	fmt.Println("  node-local bytes, solved exactly with incremental max-flows and LP duality). Naive: the")
	fmt.Println("  plain max-flow relaxation (fractional VMs of one share each), for comparison.")
	fmt.Println("- Lagrangian: prices on the blocks, VM counts kept integral; 300 subgradient steps.")
	fmt.Println("- % of bound: Place's node-local bytes over the lower of the two bounds. The optimum lies")
	fmt.Println("  between Place and the bound; the second table shows how much slack the bounds have.")
	fmt.Println()
	fmt.Println("| blocks (GiB) | VMs | random: node / rack | random + split: node | Place: node / rack | LP bound (naive) | Lagrangian | Place % of bound | Place ms per VM |")
	fmt.Println("|---:|---:|---|---:|---|---|---:|---:|---:|")
	type run struct {
		blocks, vms int
		random, our []vmRead
		rk          *racks
	}
	var runs []run
	for _, blocks := range []int{2000, 6000} {
		spec.blocks = blocks
		w := newDFSWorld(spec, seed+uint64(blocks))
		for _, n := range []int{100, 200, 300, 500} {
			reqs := w.createMany(n, seed+uint64(n))
			best := time.Duration(1 << 62)
			var res Result
			for range 3 {
				start := time.Now()
				res = Place(w.snap, reqs, t0)
				best = min(best, time.Since(start))
			}
			p := newPlacer(w.snap, nil)
			bs, rk := p.blockSet(w.data), p.racks()
			randHosts := randomHosts(w.snap, reqs, seed+uint64(n)+1)
			random := readsOf(bs, rk, randHosts, evenSplit(len(bs.size), len(randHosts)))
			split := readsOf(bs, rk, randHosts, blocksOf(assignBlocks(bs, randHosts, rk)))
			our := placedReads(w.snap, bs, rk, res)
			in := boundOf(w.snap, reqs, w.data)
			b := in.bound()
			tot := sumReads(our)
			lg := in.lagrangian(float64(tot.local), 300)
			all := float64(bs.total)
			rt, st := sumReads(random), sumReads(split)
			fmt.Printf("| %d (%.0f) | %d | %.1f%% / %.1f%% | %.1f%% | %.1f%% / %.1f%% | %.1f%% (%.0f%%) | %.1f%% | %.1f%% | %.2f |\n",
				blocks, all/(1<<30), n, pct(rt.local, all), pct(rt.rack, all), pct(st.local, all),
				pct(tot.local, all), pct(tot.rack, all), 100*b.lp/all, 100*b.naive/all, 100*lg/all,
				100*float64(tot.local)/min(b.lp, lg), float64(best.Microseconds())/1000/float64(n))
			if len(res.Placements) != n {
				t.Errorf("%d blocks, %d VMs: placed %d", blocks, n, len(res.Placements))
			}
			runs = append(runs, run{blocks: blocks, vms: n, random: random, our: our, rk: rk})
		}
	}

	fmt.Println("\nSmall groups against their exact optimum (every placement of the VMs tried; the best split")
	fmt.Println("for each is a max-flow): 4-8 hosts of 8 cores in 3 racks, partly used, 2-6 identical VMs of")
	fmt.Println("1-2 cores, 5-40 blocks of one size replicated 1-3 times (smallGroup), 1,000 seeds.")
	fmt.Println()
	fmt.Println("| groups | Place % of optimum: all / worst | groups where Place is optimal | optimum % of Lagrangian: all / worst | optimum % of LP bound: all / worst |")
	fmt.Println("|---:|---|---:|---|---|")
	var st smallStats
	for s := range uint64(1000) {
		st.add(s)
	}
	fmt.Printf("| %d | %.2f%% / %.1f%% | %d | %.1f%% / %.1f%% | %.1f%% / %.1f%% |\n", st.n, 100*st.ours/st.opt, 100*st.worstOurs,
		st.optimal, 100*st.opt/st.lagr, 100*st.worstLagr, 100*st.opt/st.lp, 100*st.worstLP)

	fmt.Println("\nWhat it buys: an I/O-bound scan, one task per VM reading its share from one spindle. A")
	fmt.Println("node-local byte reads at the disk's 100 MB/s. A rack-local byte crosses the reader's 1 Gb/s")
	fmt.Println("NIC (125 MB/s, shared by the group's VMs on that host that read remotely). An off-rack byte")
	fmt.Println("also crosses the reader's rack uplink: 25 hosts x 1 Gb/s divided by the core's")
	fmt.Println("oversubscription (4:1: 781 MB/s, 20:1: 156 MB/s), shared by the group's VMs in that rack that")
	fmt.Println("read off-rack. Each VM reads its local bytes, then its rack-local ones, then the rest, each at")
	fmt.Println("its rate; the job ends with its slowest VM. Not modelled: the serving side's disks and links,")
	fmt.Println("other traffic, overlap of the phases. Estimates, to compare placements, not predictions.")
	fmt.Println()
	fmt.Println("| blocks | VMs | oversubscription | random: job time | Place: job time | speed-up | if every byte were node-local |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range runs {
		for _, over := range []float64{4, 20} {
			tr, to := scanTime(r.random, r.rk, over), scanTime(r.our, r.rk, over)
			ideal := 0.0
			for _, v := range r.our {
				ideal = max(ideal, float64(v.local+v.rack+v.far)/1e6/diskMBps)
			}
			fmt.Printf("| %d | %d | %.0f:1 | %.0f s | %.0f s | %.1fx | %.0f s |\n", r.blocks, r.vms, over, tr, to, tr/to, ideal)
		}
	}
}

func pct(x int64, all float64) float64 { return 100 * float64(x) / all }

// vmRead is where one VM's bytes are: on its host, in its rack, farther.
type vmRead struct {
	host             int32
	local, rack, far int64
}

func sumReads(vs []vmRead) (t vmRead) {
	for _, v := range vs {
		t.local += v.local
		t.rack += v.rack
		t.far += v.far
	}
	return t
}

// readsOf counts, for VMs on hosts reading the given blocks each, where
// their bytes are.
func readsOf(bs *blockSet, rk *racks, hosts []int32, blocks [][]int) []vmRead {
	out := make([]vmRead, len(hosts))
	for v, i := range hosts {
		out[v].host = i
		for _, b := range blocks[v] {
			near := false
			for _, r := range bs.racks[b] {
				near = near || (r == rk.rackOf[i] && r >= 0)
			}
			switch {
			case containsHost(bs.hosts[b], i):
				out[v].local += bs.size[b]
			case near:
				out[v].rack += bs.size[b]
			default:
				out[v].far += bs.size[b]
			}
		}
	}
	return out
}

func containsHost(hs []int32, i int32) bool {
	for _, h := range hs {
		if h == i {
			return true
		}
	}
	return false
}

// placedReads is readsOf for Place's result.
func placedReads(snap *Snapshot, bs *blockSet, rk *racks, res Result) []vmRead {
	var hosts []int32
	var blocks [][]int
	for _, pl := range res.Placements {
		hosts = append(hosts, int32(pl.HostID-1)) // ids are index+1 in dfsWorld
		blocks = append(blocks, pl.Blocks)
	}
	return readsOf(bs, rk, hosts, blocks)
}

// randomHosts puts each request on a uniformly random host that is up,
// Normal and has room for it.
func randomHosts(snap *Snapshot, reqs []Request, seed uint64) []int32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	cores := make([]int, len(snap.Hosts))
	mem := make([]int, len(snap.Hosts))
	var out []int32
	for _, r := range reqs {
		var ok []int32
		for i := range snap.Hosts {
			h := &snap.Hosts[i]
			if hostState(h) == OK && h.UsedCores+cores[i]+r.Cores <= h.Cores && h.UsedMemory+mem[i]+r.Memory <= h.Memory {
				ok = append(ok, int32(i))
			}
		}
		i := ok[rng.IntN(len(ok))]
		cores[i] += r.Cores
		mem[i] += r.Memory
		out = append(out, i)
	}
	return out
}

// evenSplit gives n VMs the blocks in order, in runs of equal length.
func evenSplit(blocks, n int) [][]int {
	out := make([][]int, n)
	for b := range blocks {
		v := b * n / blocks
		out[v] = append(out[v], b)
	}
	return out
}

func blocksOf(shares []vmShare) [][]int {
	out := make([][]int, len(shares))
	for v, s := range shares {
		out[v] = s.blocks
	}
	return out
}

const (
	diskMBps = 100.0 // one spindle, sequential
	nicMBps  = 125.0 // 1 Gb/s
)

// scanTime is the model's job time in seconds (see the table's notes).
func scanTime(vs []vmRead, rk *racks, oversub float64) float64 {
	remote := map[int32]int{} // host -> VMs reading remotely
	far := map[int32]int{}    // rack -> VMs reading off-rack
	for _, v := range vs {
		if v.rack+v.far > 0 {
			remote[v.host]++
		}
		if v.far > 0 {
			far[rk.rackOf[v.host]]++
		}
	}
	uplink := float64(len(rk.hosts[0])) * nicMBps / oversub
	job := 0.0
	for _, v := range vs {
		t := float64(v.local) / 1e6 / diskMBps
		if v.rack+v.far > 0 {
			nic := min(diskMBps, nicMBps/float64(remote[v.host]))
			t += float64(v.rack) / 1e6 / nic
			if v.far > 0 {
				t += float64(v.far) / 1e6 / min(nic, uplink/float64(far[rk.rackOf[v.host]]))
			}
		}
		job = max(job, t)
	}
	return job
}

// smallStats sums Place and the bounds against the optimum over small
// groups.
type smallStats struct {
	n, optimal                    int
	ours, opt, lagr, lp           float64
	worstOurs, worstLagr, worstLP float64
}

func (s *smallStats) add(seed uint64) {
	if s.n == 0 {
		s.worstOurs, s.worstLagr, s.worstLP = 1, 1, 1
	}
	snap, reqs, d := smallGroup(seed)
	res := Place(snap, reqs, t0)
	if len(res.Placements) < len(reqs) {
		return
	}
	in := boundOf(snap, reqs, d)
	opt := float64(optimum(in))
	ours := float64(totalsOf(res).local)
	if opt <= 0 {
		return
	}
	lg, lp := in.lagrangian(ours, 300), in.bound().lp
	s.n++
	if ours == opt {
		s.optimal++
	}
	s.ours, s.opt, s.lagr, s.lp = s.ours+ours, s.opt+opt, s.lagr+lg, s.lp+lp
	s.worstOurs = min(s.worstOurs, ours/opt)
	s.worstLagr = min(s.worstLagr, opt/lg)
	s.worstLP = min(s.worstLP, opt/lp)
}
