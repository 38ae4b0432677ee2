package scheduler

import "testing"

// The shortcuts explain takes (the index's counts, sample's tally) give
// exactly the counts of a scan of every host with the filter chain, in
// random states reached by random placements.
func TestExplainShortcutsMatchFullScan(t *testing.T) {
	for seed := range uint64(300) {
		g := newGen(seed)
		snap := g.snapshot()
		reqs := g.requests(snap)
		p := newPlacer(snap, reqs)
		for round := range 2 { // the second round moves hosts in the index built by the first
			placeSome(p, g, reqs, round)
			compareCounts(t, p, reqs, seed)
		}
	}
}

// placeSome commits every other request of reqs (by parity with round)
// to a random host that passes the filters.
func placeSome(p *placer, g gen, reqs []Request, round int) {
	for k := range reqs {
		j := p.newJob(&reqs[k])
		if i := int32(g.rng.IntN(len(p.hosts))); k%2 == round && p.check(i, &j) == OK {
			p.commit(&j, i)
		}
	}
}

// compareCounts checks, for every request without a target, the index's
// counts and sample's tally against a scan with the filter chain.
func compareCounts(t *testing.T, p *placer, reqs []Request, seed uint64) {
	t.Helper()
	defer func(limit int) { p.limit = limit }(p.limit)
	p.limit = -1 // sample sees every host
	for k := range reqs {
		j := p.newJob(&reqs[k])
		j.diskBusy = diskBusy(p.disks, j.r)
		if j.target != noTarget {
			continue
		}
		var want tally
		for i := range p.hosts {
			want[p.check(int32(i), &j)]++
		}
		if got := p.countByIndex(&j); !j.diskBusy && got != want {
			t.Fatalf("seed %d request %d: index counts %v, scan %v", seed, j.r.InstanceID, got, want)
		}
		p.cands = p.cands[:0]
		if p.sample(&j); !p.tallied || p.tally != want {
			t.Fatalf("seed %d request %d: sample tally %v (complete %v), scan %v", seed, j.r.InstanceID, p.tally, p.tallied, want)
		}
	}
}
