package scheduler

import (
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
	}
	for range 10000 {
		h := Host{Cores: rng.IntN(64), Memory: rng.IntN(1 << 20)}
		r := Request{Cores: rng.IntN(64), Memory: rng.IntN(1 << 20)}
		c := Candidate{Host: &h, Request: &r, UsedCores: rng.IntN(80), UsedMemory: rng.IntN(1 << 21),
			DensePack: rng.IntN(2) == 0, Affine: rng.IntN(5), AntiAffine: rng.IntN(5)}
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
