package scheduler

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
)

// The same input gives the same Result, whatever the order of the
// requests: the queue is ordered by priority, created time and id, and
// ties between hosts are broken by a shuffle seeded from the request.
func TestPlaceIsDeterministic(t *testing.T) {
	for seed := range uint64(200) {
		g := newGen(seed)
		snap := g.snapshot()
		reqs := unique(g.requests(snap))
		first := Place(snap, reqs, t0)
		if again := Place(snap, reqs, t0); !reflect.DeepEqual(first, again) {
			t.Fatalf("seed %d: two calls differ:\n%v\n%v", seed, first, again)
		}
		shuffled := append([]Request(nil), reqs...)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) {
			shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
		})
		if other := Place(snap, shuffled, t0); !reflect.DeepEqual(first, other) {
			t.Fatalf("seed %d: shuffled requests give another result:\n%v\n%v", seed, first, other)
		}
	}
}

func unique(reqs []Request) []Request {
	seen := map[int64]bool{}
	var out []Request
	for _, r := range reqs {
		if !seen[r.InstanceID] {
			seen[r.InstanceID] = true
			out = append(out, r)
		}
	}
	return out
}

// On identical empty hosts every host ties; which one wins depends on the
// request's id and version, so different requests land on different hosts.
func TestTiesBrokenByRequestID(t *testing.T) {
	for _, dense := range []bool{true, false} {
		t.Run(fmt.Sprintf("densePack=%v", dense), func(t *testing.T) {
			var hosts []Host
			for k := 1; k <= 64; k++ {
				hosts = append(hosts, hostN(fmt.Sprintf("h%d", k), 8, 8192))
			}
			snap := &Snapshot{Hosts: hosts, Policy: Policy{DensePack: dense}}
			chosen := map[int64]int{}
			for id := int64(1); id <= 100; id++ {
				res := Place(snap, []Request{reqN(id, 1, 512)}, t0)
				chosen[res.Placements[0].HostID]++
			}
			if len(chosen) < 40 {
				t.Errorf("100 requests chose only %d of 64 hosts: %v", len(chosen), chosen)
			}
			a := Place(snap, []Request{reqN(7, 1, 512, version(1))}, t0).Placements[0].HostID
			b := Place(snap, []Request{reqN(7, 1, 512, version(1))}, t0).Placements[0].HostID
			if a != b {
				t.Errorf("the same request went to %d and then %d", a, b)
			}
		})
	}
	if Seed(7, 1) == Seed(7, 2) || Seed(7, 1) == Seed(8, 1) {
		t.Errorf("seeds collide")
	}
}
