package scheduler

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestScores(t *testing.T) {
	h := hostN("h1", 8, 8192)
	r := reqN(1, 2, 2048)
	cases := []struct {
		name  string
		score func(Candidate) float64
		c     Candidate
		want  float64
	}{
		{"densePack, empty host", ScoreDensePack, Candidate{Host: &h, Request: &r}, 25},
		{"densePack, filled exactly", ScoreDensePack, Candidate{Host: &h, Request: &r, UsedCores: 6, UsedMemory: 6144}, 100},
		{"spread, empty host", ScoreSpread, Candidate{Host: &h, Request: &r}, 75},
		{"fit follows the mode", ScoreFit, Candidate{Host: &h, Request: &r, DensePack: true}, 25},
		{"affinity: none", ScoreAffinity, Candidate{Host: &h, Request: &r}, 0},
		{"affinity: one soft anti-affinity neighbour", ScoreAffinity, Candidate{AntiAffine: 1}, -50},
		{"affinity: clamped", ScoreAffinity, Candidate{AntiAffine: 5}, -100},
		{"affinity: two affine members", ScoreAffinity, Candidate{Affine: 2}, 100},
		{"locality: no data", ScoreLocality, Candidate{Host: &h, Request: &r}, 0},
		{"locality: all node-local", ScoreLocality, Candidate{RequestedBytes: 1024, LocalBytes: 1024}, 100},
		{"locality: 812 of 1024 node-local", ScoreLocality, Candidate{RequestedBytes: 1024, LocalBytes: 812}, 79.296875},
		{"locality: rack-local at a quarter", ScoreLocality, Candidate{RequestedBytes: 1000, LocalBytes: 500, RackBytes: 400, RackCredit: 0.25}, 60},
		{"locality: rack-local without credit", ScoreLocality, Candidate{RequestedBytes: 1000, RackBytes: 1000}, 0},
		{"locality: credit clamped to 1", ScoreLocality, Candidate{RequestedBytes: 1000, LocalBytes: 200, RackBytes: 800, RackCredit: 3}, 100},
		{"load: idle, all memory free", ScoreLoad, Candidate{Host: &Host{Cores: 8, Memory: 8192, FreeMemory: 8192}}, 100},
		{"load: no heartbeat figures", ScoreLoad, Candidate{Host: &Host{Cores: 8, Memory: 8192}}, 50},
		{"load: 4 of 8 cores busy, a quarter free", ScoreLoad, Candidate{Host: &Host{Cores: 8, Memory: 8192, Load1: 4, FreeMemory: 2048}}, 37.5},
		{"load: overloaded, this call's VMs count", ScoreLoad, Candidate{Host: &Host{Cores: 8, Memory: 8192, Load1: 6, FreeMemory: 4096},
			AddedCores: 4, AddedMemory: 4096}, 0},
		{"load: more free than offered", ScoreLoad, Candidate{Host: &Host{Cores: 8, Memory: 8192, Load1: 2, FreeMemory: 65536}}, 87.5},
		{"load: not asked for", ScoreLoadAware, Candidate{Host: &Host{Cores: 8, Memory: 8192, FreeMemory: 8192}}, 0},
		{"load: asked for", ScoreLoadAware, Candidate{Host: &Host{Cores: 8, Memory: 8192, FreeMemory: 8192}, LoadAware: true}, 100},
	}
	for _, c := range cases {
		if got := c.score(c.c); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// Every score stays within its documented range, whatever it is given.
func TestScoreRanges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ranges := []struct {
		name   string
		score  func(Candidate) float64
		lo, hi float64
	}{
		{"densePack", ScoreDensePack, 0, 100}, {"spread", ScoreSpread, 0, 100},
		{"fit", ScoreFit, 0, 100}, {"affinity", ScoreAffinity, -100, 100},
		{"locality", ScoreLocality, 0, 100}, {"load", ScoreLoad, 0, 100}, {"loadAware", ScoreLoadAware, 0, 100},
	}
	weird := []float64{0, -1, math.NaN(), math.Inf(1), math.Inf(-1)}
	for range 10000 {
		h := Host{Cores: rng.IntN(64), Memory: rng.IntN(1 << 20), Load1: 100 * rng.Float64(), FreeMemory: rng.IntN(1<<21) - 1000}
		if rng.IntN(10) == 0 {
			h.Load1 = weird[rng.IntN(len(weird))]
		}
		r := Request{Cores: rng.IntN(64), Memory: rng.IntN(1 << 20)}
		req := rng.Int64N(1<<40) - 10
		c := Candidate{Host: &h, Request: &r, UsedCores: rng.IntN(80), UsedMemory: rng.IntN(1 << 21),
			DensePack: rng.IntN(2) == 0, Affine: rng.IntN(5), AntiAffine: rng.IntN(5),
			AddedCores: rng.IntN(20) - 2, AddedMemory: rng.IntN(1<<20) - 10, LoadAware: rng.IntN(2) == 0,
			RequestedBytes: req, LocalBytes: rng.Int64N(1<<41) - 10, RackBytes: rng.Int64N(1<<41) - 10,
			RackCredit: 3*rng.Float64() - 1}
		for _, s := range ranges {
			if v := s.score(c); v < s.lo || v > s.hi {
				t.Fatalf("%s(%+v) = %v, outside %v..%v", s.name, c, v, s.lo, s.hi)
			}
		}
	}
}

// The extension point: a site (or a later issue) adds a scorer to the
// policy's list; here a load score that prefers idle hosts outweighs the
// spread score.
func TestScorerExtensionPoint(t *testing.T) {
	idle := func(c Candidate) float64 { return 100 - min(100, 25*c.Host.Load1) } // 0..100
	snap := cluster(hostN("h1", 8, 8192), hostN("h2", 8, 8192, used(4, 4096)))
	snap.Hosts[0].Load1 = 7.5 // busy without VMs: say, the host's own work
	req := []Request{reqN(101, 1, 1024)}
	if got := hostOfPlacement(Place(snap, req, t0), 101); got != 1 {
		t.Fatalf("default scorers chose host %d, want the emptier h1", got)
	}
	snap.Policy.Scorers = append(DefaultScorers(), Scorer{Name: "load", Weight: 2, Score: idle})
	if got := hostOfPlacement(Place(snap, req, t0), 101); got != 2 {
		t.Errorf("with a load scorer chose host %d, want the idle h2", got)
	}
}
