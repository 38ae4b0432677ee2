package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// benchCluster is n hosts of 16, 32 or 64 cores (4 GiB a core), each
// already 0-50% used, as a cluster in service looks.
func benchCluster(n int, dense bool, seed uint64) *Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &Snapshot{Hosts: make([]Host, n), Policy: Policy{DensePack: dense}}
	for i := range s.Hosts {
		cores := []int{16, 32, 64}[rng.IntN(3)]
		h := Host{ID: int64(i + 1), Name: fmt.Sprintf("r%dn%d", i/40, i%40), Up: true,
			Cores: cores, Memory: cores * 4096}
		h.UsedCores = rng.IntN(cores/2 + 1)
		h.UsedMemory = h.UsedCores * 4096
		s.Hosts[i] = h
	}
	return s
}

// emptyCluster is n such hosts with nothing on them.
func emptyCluster(n int, dense bool, seed uint64) *Snapshot {
	s := benchCluster(n, dense, seed)
	for i := range s.Hosts {
		s.Hosts[i].UsedCores, s.Hosts[i].UsedMemory = 0, 0
	}
	return s
}

// benchRequests is a batch of n plain VMs of 1-8 cores and 1-16 GiB, ids
// from first on.
func benchRequests(n int, first int64, seed uint64) []Request {
	rng := rand.New(rand.NewPCG(seed, 2))
	reqs := make([]Request, n)
	for i := range reqs {
		reqs[i] = Request{InstanceID: first + int64(i), Version: 1, User: int64(1 + rng.IntN(50)),
			Cores: []int{1, 1, 2, 2, 4, 8}[rng.IntN(6)], Memory: 1024 * (1 + rng.IntN(16)),
			Created: t0.Add(time.Duration(i) * time.Millisecond)}
	}
	return reqs
}

// withHints gives a batch Tashi's hints: groups of 8, a tenth of them
// gangs; 10% hard and 10% soft anti-affinity, 5% soft affinity, 5% a
// targetHost with allowElsewhere, 5% the other densePack mode.
func withHints(reqs []Request, hosts int, dense bool, seed uint64) []Request {
	rng := rand.New(rand.NewPCG(seed, 3))
	other := !dense
	for i := range reqs {
		r := &reqs[i]
		r.Group = int64(i/8 + 1)
		r.Hints.Gang = r.Group%10 == 0
		switch x := rng.IntN(100); {
		case x < 10:
			r.Hints.AntiAffinity = Label{Name: "web"}
		case x < 20:
			r.Hints.AntiAffinity = Label{Name: "web", Soft: true}
		case x < 25:
			r.Hints.Affinity = Label{Name: "db", Soft: true}
		case x < 30:
			r.Hints.TargetHost = fmt.Sprintf("r%dn%d", rng.IntN(hosts)/40, rng.IntN(40))
			r.Hints.AllowElsewhere = true
		case x < 35:
			r.Hints.DensePack = &other
		}
	}
	return reqs
}

// The workloads of the benchmarks: plain requests on a cluster 0-50% used;
// the same with hints; plain requests on a full cluster, where every
// request fails and is explained.
var workloads = []string{"plain", "hints", "full"}

// BenchmarkPlace: one Place call of a batch of requests on in-memory
// hosts; decisions/s counts every request answered (placed or not).
func BenchmarkPlace(b *testing.B) {
	for _, hosts := range []int{1000, 10000} {
		for _, batch := range []int{1, 1000} {
			for _, dense := range []bool{true, false} {
				for _, w := range workloads {
					name := fmt.Sprintf("hosts=%d/batch=%d/densePack=%v/%s", hosts, batch, dense, w)
					b.Run(name, func(b *testing.B) { benchPlace(b, hosts, batch, dense, w) })
				}
			}
		}
	}
}

func benchPlace(b *testing.B, hosts, batch int, dense bool, workload string) {
	snap := benchCluster(hosts, dense, 1)
	reqs := benchRequests(batch, 1, 2)
	switch workload {
	case "hints":
		reqs = withHints(reqs, hosts, dense, 4)
	case "full":
		for i := range snap.Hosts {
			snap.Hosts[i].UsedCores = snap.Hosts[i].Cores
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		Place(snap, reqs, t0)
	}
	perOp := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(batch)/perOp, "decisions/s")
	b.ReportMetric(perOp*1e9/float64(batch), "ns/decision")
}

// TestPlaceThroughputTable prints, as markdown, pure placement speed on
// 1,000 and 10,000 hosts and the quality of the bounded candidate search
// against an exhaustive one. make bench runs it with TASHI_BENCH=1.
func TestPlaceThroughputTable(t *testing.T) {
	if os.Getenv("TASHI_BENCH") != "1" {
		t.Skip("set TASHI_BENCH=1 to measure (make bench)")
	}
	fmt.Println("\nPure placement: Place runs on one goroutine (one core). Hosts of 16/32/64 cores, 0-50% used;")
	fmt.Println("requests of 1-8 cores and 1-16 GiB. hints: groups of 8 with anti-affinity, affinity,")
	fmt.Println("targetHost and gangs mixed in. full: every host full, every request explained.")
	fmt.Println("\n| hosts | requests per call | mode | workload | decisions/s | ns/decision | allocs/call |")
	fmt.Println("|---:|---:|---|---|---:|---:|---:|")
	for _, hosts := range []int{1000, 10000} {
		for _, batch := range []int{1, 1000} {
			for _, dense := range []bool{true, false} {
				for _, w := range workloads {
					if batch == 1 && w != "plain" {
						continue
					}
					r := testing.Benchmark(func(b *testing.B) { benchPlace(b, hosts, batch, dense, w) })
					perDecision := float64(r.T.Nanoseconds()) / float64(r.N*batch)
					fmt.Printf("| %d | %d | %s | %s | %.0f | %.0f | %d |\n", hosts, batch, mode(dense), w,
						1e9/perDecision, perDecision, r.AllocsPerOp())
				}
			}
		}
	}
	fmt.Println("\nQuality of the bounded search against an exhaustive one: a stream of requests in")
	fmt.Println("calls of 1,000, each call's placements applied before the next, on an empty cluster or")
	fmt.Println("on one already 0-50% used. Utilisation is the mean of a host's core and memory use.")
	fmt.Println("densePack wants few hosts in use and many 16-core slots left for big VMs; spread wants")
	fmt.Println("a low maximum utilisation and a small standard deviation.")
	fmt.Println("\n| hosts | start | requests | mode | candidates | placed | hosts in use | 16-core slots left | max utilisation | std dev | wall |")
	fmt.Println("|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|")
	for _, hosts := range []int{1000, 10000} {
		limits, n := []int{4, 0, 64, -1}, 5*hosts
		if hosts > 1000 {
			limits, n = []int{0, -1}, hosts // keeps the exhaustive runs to seconds
		}
		for _, empty := range []bool{true, false} {
			for _, dense := range []bool{true, false} {
				for _, limit := range limits {
					st := fill(hosts, n, dense, empty, limit)
					fmt.Printf("| %d | %s | %d | %s | %s | %d | %d | %d | %.1f%% | %.1f | %v |\n", hosts, startName(empty), n,
						mode(dense), limitName(limit), st.placed, st.inUse, st.slots, st.maxUse, st.stddev,
						st.wall.Round(time.Millisecond))
				}
			}
		}
	}
}

func startName(empty bool) string {
	if empty {
		return "empty"
	}
	return "0-50% used"
}

func limitName(limit int) string {
	switch {
	case limit == 0:
		return fmt.Sprintf("%d (default)", DefaultCandidateLimit)
	case limit < 0:
		return "all (exhaustive)"
	}
	return fmt.Sprint(limit)
}

func mode(dense bool) string {
	if dense {
		return "densePack"
	}
	return "spread"
}

type fillStats struct {
	placed, inUse  int
	slots          int     // hosts with 16 cores and 64 GiB free
	maxUse, stddev float64 // utilisation, percent
	wall           time.Duration
}

// fill places n requests in calls of 1,000, applying each call's
// placements before the next, as the CM would.
func fill(hosts, n int, dense, empty bool, limit int) fillStats {
	snap := benchCluster(hosts, dense, 3)
	if empty {
		snap = emptyCluster(hosts, dense, 3)
	}
	snap.Policy.CandidateLimit = limit
	var st fillStats
	start := time.Now()
	for first := 0; first < n; first += 1000 {
		reqs := benchRequests(min(1000, n-first), int64(first+1), uint64(first))
		res := Place(snap, reqs, t0)
		size := map[int64]Request{}
		for _, r := range reqs {
			size[r.InstanceID] = r
		}
		for _, p := range res.Placements {
			h := &snap.Hosts[p.HostID-1]
			h.UsedCores += size[p.InstanceID].Cores
			h.UsedMemory += size[p.InstanceID].Memory
		}
		st.placed += len(res.Placements)
	}
	st.wall = time.Since(start)
	var sum, sq float64
	for _, h := range snap.Hosts {
		u := 50 * (float64(h.UsedCores)/float64(h.Cores) + float64(h.UsedMemory)/float64(h.Memory))
		if h.UsedCores > 0 {
			st.inUse++
		}
		if h.Cores-h.UsedCores >= 16 && h.Memory-h.UsedMemory >= 16*4096 {
			st.slots++
		}
		sum += u
		sq += u * u
		st.maxUse = max(st.maxUse, u)
	}
	mean := sum / float64(hosts)
	st.stddev = math.Sqrt(max(0, sq/float64(hosts)-mean*mean))
	return st
}
