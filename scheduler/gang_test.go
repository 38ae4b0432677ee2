package scheduler

import (
	"strings"
	"testing"
	"time"
)

// A createMany of 8 that cannot fit stays unplaced with "gang does not
// fit"; when room appears, all 8 are placed in one call (and one plan).
func TestGangAllOrNothing(t *testing.T) {
	hosts := []Host{hostN("h1", 8, 16384), hostN("h2", 8, 16384), hostN("h3", 8, 16384)}
	gang := gangOf(9, 8, 101, 4, 4096) // 32 cores asked, 24 there
	small := reqN(200, 4, 4096)        // after the gang: must see its room given back
	snap := cluster(hosts...)
	res := Place(snap, append(gang, small), t0)

	if len(res.Placements) != 1 || res.Placements[0].InstanceID != 200 {
		t.Fatalf("placements %v: want only 200 (no gang member)", res.Placements)
	}
	if len(res.Unplaced) != 8 {
		t.Fatalf("%d explanations, want 8", len(res.Unplaced))
	}
	for _, e := range res.Unplaced {
		if e.Reason != ReasonGang || e.GangMember == 0 || e.Count(ReasonCores) != 3 {
			t.Errorf("%d: %s: want gang does not fit, with the failing member's 3 hosts short of cores", e.InstanceID, e)
		}
		if !strings.HasPrefix(e.String(), "gang does not fit: instance ") {
			t.Errorf("%d: %q", e.InstanceID, e)
		}
	}

	// Room appears: a fourth host; 200 is running on h1 now.
	snap = cluster(hostN("h1", 8, 16384, used(4, 4096)), hosts[1], hosts[2], hostN("h4", 8, 16384))
	snap.Hosts = append(snap.Hosts, hostN("h5", 4, 4096))
	res = Place(snap, gang, t0.Add(time.Minute))
	if len(res.Placements) != 8 || len(res.Unplaced) != 0 {
		t.Fatalf("placed %d, unplaced %v: want all 8", len(res.Placements), res.Unplaced)
	}
	plans := Plans("agent-1", res)
	if len(plans) != 1 || !plans[0].Atomic || len(plans[0].Placements) != 8 {
		t.Fatalf("plans %+v: want one atomic plan of 8", plans)
	}
	assertWithinCapacity(t, snap, res, gang...)
}

func TestGangRules(t *testing.T) {
	four := func(n int) *Snapshot {
		var hs []Host
		for i := range n {
			hs = append(hs, hostN("h"+string(rune('1'+i)), 8, 16384))
		}
		return cluster(hs...)
	}
	cases := []struct {
		name   string
		snap   *Snapshot
		reqs   []Request
		placed int
		check  func(t *testing.T, res Result)
	}{
		{"hard anti-affinity: 4 members, 3 hosts", four(3), gangOf(9, 4, 101, 1, 1024, "antiAffinity=web"), 0,
			func(t *testing.T, res Result) {
				if e := res.Unplaced[0]; e.Reason != ReasonGang || e.Count(ReasonAntiAffinity) != 3 {
					t.Errorf("%s: want 3 hosts rejected for anti-affinity", e)
				}
			}},
		{"hard anti-affinity: 4 members, 4 hosts", four(4), gangOf(9, 4, 101, 1, 1024, "antiAffinity=web"), 4,
			func(t *testing.T, res Result) {
				seen := map[int64]bool{}
				for _, p := range res.Placements {
					if seen[p.HostID] || p.Gang != 9 {
						t.Errorf("placement %+v: host shared or not marked as gang 9", p)
					}
					seen[p.HostID] = true
				}
			}},
		{"hard affinity: all on one host", four(4), gangOf(9, 4, 101, 2, 1024, "affinity=db"), 4,
			func(t *testing.T, res Result) {
				for _, p := range res.Placements {
					if p.HostID != res.Placements[0].HostID {
						t.Errorf("placements %v: want one host", res.Placements)
					}
				}
			}},
		{"hard affinity: too big for one host", four(4), gangOf(9, 5, 101, 2, 1024, "affinity=db"), 0,
			func(t *testing.T, res Result) {
				if e := res.Unplaced[0]; e.Count(ReasonAffinity) != 3 || e.Count(ReasonCores) != 1 {
					t.Errorf("%s: want 3 hosts rejected for affinity and 1 for cores", e)
				}
			}},
		{"an invalid member sinks the gang", four(2),
			append(gangOf(9, 2, 101, 1, 1024), reqN(103, 1, 1024, group(9), hints("gang=true", "antiAffinity=:soft"))), 0,
			func(t *testing.T, res Result) {
				if e := res.Unplaced[0]; e.GangMember != 103 || !strings.Contains(e.Detail, "invalid hints") {
					t.Errorf("%s: want member 103's invalid hints", e)
				}
			}},
		{"gang=false members are placed alone", four(1),
			[]Request{reqN(101, 8, 1024, group(9)), reqN(102, 8, 1024, group(9))}, 1, nil},
		{"two gangs: the first fits, the second does not", four(2),
			append(gangOf(9, 2, 101, 8, 1024), gangOf(10, 2, 201, 1, 1024)...), 2,
			func(t *testing.T, res Result) {
				if e := res.Unplaced[0]; e.InstanceID != 201 && e.InstanceID != 202 || e.Count(ReasonCores) != 2 {
					t.Errorf("%s: want gang 10 short of cores on 2 hosts", e)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := Place(c.snap, c.reqs, t0)
			if len(res.Placements) != c.placed {
				t.Fatalf("placed %d (%v), want %d; unplaced %v", len(res.Placements), res.Placements, c.placed, res.Unplaced)
			}
			if c.check != nil {
				c.check(t, res)
			}
			assertWithinCapacity(t, c.snap, res, c.reqs...)
		})
	}
}

// now dates explanations; a gang past the policy's timeout is marked.
func TestGangTimeout(t *testing.T) {
	snap := cluster(hostN("h1", 2, 2048))
	snap.Policy.GangTimeout = time.Minute
	gang := gangOf(9, 2, 101, 2, 1024)
	for _, c := range []struct {
		now     time.Time
		expired bool
	}{{t0.Add(30 * time.Second), false}, {t0.Add(2 * time.Minute), true}} {
		res := Place(snap, gang, c.now)
		for _, e := range res.Unplaced {
			if e.Expired != c.expired || e.Waited <= 0 {
				t.Errorf("now=%v: %d waited %v expired=%v, want expired=%v", c.now, e.InstanceID, e.Waited, e.Expired, c.expired)
			}
		}
	}
}

// assertWithinCapacity checks that res overcommits no host of snap.
// reqs are the requests res answered.
func assertWithinCapacity(t *testing.T, snap *Snapshot, res Result, reqs ...Request) {
	t.Helper()
	size := map[int64][2]int{}
	for _, r := range reqs {
		size[r.InstanceID] = [2]int{r.Cores, r.Memory}
	}
	use := map[int64][2]int{}
	for _, p := range res.Placements {
		u := use[p.HostID]
		use[p.HostID] = [2]int{u[0] + size[p.InstanceID][0], u[1] + size[p.InstanceID][1]}
	}
	for _, h := range snap.Hosts {
		u := use[h.ID]
		if h.UsedCores+u[0] > h.Cores || h.UsedMemory+u[1] > h.Memory {
			t.Errorf("host %s over capacity: %d+%d of %d cores, %d+%d of %d MiB", h.Name,
				h.UsedCores, u[0], h.Cores, h.UsedMemory, u[1], h.Memory)
		}
	}
}
