package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// blocksOn is n blocks of size bytes, each with replicas on the hosts.
func blocksOn(n int, size int64, hosts ...int64) []Block {
	out := make([]Block, n)
	for k := range out {
		out[k] = Block{Bytes: size, Hosts: hosts}
	}
	return out
}

func inRack(r string) hostOpt { return func(h *Host) { h.Rack = r } }

func withData(d *Data) reqOpt { return func(r *Request) { r.Data = d } }

func placementOf(t *testing.T, res Result, id int64) Placement {
	t.Helper()
	for _, p := range res.Placements {
		if p.InstanceID == id {
			return p
		}
	}
	t.Fatalf("instance %d not placed: %v", id, res.Unplaced)
	return Placement{}
}

// An ungrouped request goes where its bytes are; with that host drained,
// to a host of the same rack rather than a far one; and its placement
// says how near it is.
func TestUngroupedDataGoesNearItsData(t *testing.T) {
	d := &Data{Blocks: append(blocksOn(7, 64*mib, 1), blocksOn(3, 64*mib, 4)...)}
	hosts := func(opts ...hostOpt) *Snapshot {
		return cluster(hostN("h1", 8, 8192, append(opts, inRack("a"))...), hostN("h2", 8, 8192, inRack("a")),
			hostN("h3", 8, 8192, inRack("b")), hostN("h4", 8, 8192, inRack("b")))
	}
	req := []Request{reqN(101, 1, 1024, withData(d))}

	pl := placementOf(t, Place(hosts(), req, t0), 101)
	if pl.HostID != 1 || pl.RequestedBytes != 640*mib || pl.LocalBytes != 448*mib || pl.RackBytes != 0 {
		t.Errorf("placed %+v, want h1 with 448 of 640 MiB node-local", pl)
	}
	if got := pl.Locality(); got != "locality 448/640 MiB node-local" {
		t.Errorf("Locality() = %q", got)
	}

	// h1 drained: h4 holds 30% (score 30), h2 is in h1's rack (70% at a
	// quarter: 17.5), h3 in h4's rack (30% at a quarter: 7.5).
	pl = placementOf(t, Place(hosts(drained), req, t0), 101)
	if pl.HostID != 4 || pl.LocalBytes != 192*mib || pl.RackBytes != 0 {
		t.Errorf("h1 drained: placed %+v, want h4 (192 MiB node-local)", pl)
	}
	// Only h1's blocks: the same rack beats a far rack.
	d.Blocks = d.Blocks[:7]
	pl = placementOf(t, Place(hosts(drained), req, t0), 101)
	if pl.HostID != 2 || pl.LocalBytes != 0 || pl.RackBytes != 448*mib {
		t.Errorf("h1 drained, data only there: placed %+v, want h2, rack-local", pl)
	}
	if got := pl.Locality(); got != "locality 0/448 MiB node-local, 448 MiB rack-local" {
		t.Errorf("Locality() = %q", got)
	}
}

// The hosts holding the data are looked at whatever the bounded sample
// draws: one data host among 400, spread and densePack alike; once it is
// full, the hosts of its rack.
func TestDataHostsAreCandidates(t *testing.T) {
	for _, dense := range []bool{false, true} {
		var hs []Host
		for i := range 400 {
			hs = append(hs, hostN(fmt.Sprintf("h%d", i+1), 16, 65536, inRack(fmt.Sprintf("r%d", i/20))))
		}
		hs[276].UsedCores, hs[276].UsedMemory = 8, 32768 // the data host is fuller: spread alone would avoid it
		snap := cluster(hs...)
		snap.Policy.DensePack = dense
		d := &Data{Blocks: blocksOn(4, 64*mib, 277)}
		var reqs []Request
		for k := range 20 {
			reqs = append(reqs, reqN(int64(100+k), 1, 1024, withData(d)))
		}
		res := Place(snap, reqs, t0)
		on := 0
		for _, p := range res.Placements {
			switch {
			case p.HostID == 277:
				on++
			case p.HostID < 261 || p.HostID > 280:
				t.Errorf("densePack=%v: instance %d on host %d, outside the data's rack (261-280)", dense, p.InstanceID, p.HostID)
			}
		}
		if on != 8 {
			t.Errorf("densePack=%v: %d instances on host 277 which holds the data and has room for 8", dense, on)
		}
	}
}

// loadAware: the hint, else the site default, adds ScoreLoad; the
// heartbeat's load and free memory then decide between equal hosts.
func TestLoadAware(t *testing.T) {
	snap := func(policy bool) *Snapshot {
		s := cluster(hostN("h1", 8, 8192), hostN("h2", 8, 8192))
		s.Hosts[0].Load1, s.Hosts[0].FreeMemory = 7, 1024 // busy with something Tashi does not run
		s.Hosts[1].Load1, s.Hosts[1].FreeMemory = 0.5, 8000
		s.Policy.LoadAware = policy
		return s
	}
	// Find a request whose seeded tie-break prefers the hot host, so that
	// the load score, not the shuffle, is what moves it.
	id := int64(0)
	for k := int64(1); id == 0; k++ {
		if hostOfPlacement(Place(snap(false), []Request{reqN(k, 1, 1024)}, t0), k) == 1 {
			id = k
		}
	}
	cases := []struct {
		policy bool
		hint   string
		want   int64
	}{
		{false, "", 1}, {false, "loadAware=true", 2}, {true, "", 2}, {true, "loadAware=no", 1},
	}
	for _, c := range cases {
		var opts []reqOpt
		if c.hint != "" {
			opts = append(opts, hints(c.hint))
		}
		if got := hostOfPlacement(Place(snap(c.policy), []Request{reqN(id, 1, 1024, opts...)}, t0), id); got != c.want {
			t.Errorf("policy loadAware=%v, hint %q: host %d, want %d", c.policy, c.hint, got, c.want)
		}
	}
	// Placed in one call, two load-aware VMs of 4 cores do not both land
	// on the cooler host: the first counts as load there.
	s := snap(true)
	s.Hosts[0].Load1 = 1.5
	res := Place(s, []Request{reqN(1, 4, 1024), reqN(2, 4, 1024)}, t0)
	if a, b := hostOfPlacement(res, 1), hostOfPlacement(res, 2); a == b {
		t.Errorf("both on host %d", a)
	}
}

// A negative LocalityWeight turns locality off: the data does not steer
// the choice, but the placement still says where the bytes are.
func TestLocalityOff(t *testing.T) {
	d := &Data{Blocks: blocksOn(4, 64*mib, 1)}
	snap := cluster(hostN("h1", 8, 8192, used(6, 6144)), hostN("h2", 8, 8192))
	req := []Request{reqN(101, 1, 1024, withData(d))}
	if got := hostOfPlacement(Place(snap, req, t0), 101); got != 1 {
		t.Fatalf("locality on: host %d, want h1 with the data", got)
	}
	snap.Policy.LocalityWeight = -1
	pl := placementOf(t, Place(snap, req, t0), 101)
	if pl.HostID != 2 || pl.RequestedBytes != 256*mib || pl.LocalBytes != 0 {
		t.Errorf("locality off: %+v, want the emptier h2, 0 of 256 MiB node-local", pl)
	}
}

// checkShares: in every data group placed, each block went to exactly one
// placed member, no member got more than its cap, and every placement's
// byte counts match its blocks and where its host is.
func checkShares(snap *Snapshot, reqs []Request, res Result) error {
	byID := map[int64]*Request{}
	for i := range reqs {
		if _, dup := byID[reqs[i].InstanceID]; !dup {
			byID[reqs[i].InstanceID] = &reqs[i]
		}
	}
	hostOf := map[int64]*Host{}
	for i := range snap.Hosts {
		hostOf[snap.Hosts[i].ID] = &snap.Hosts[i]
	}
	type group struct {
		data   *Data
		taken  []int // per block: how many members got it
		shares []int64
	}
	groups := map[int64]*group{}
	for _, pl := range res.Placements {
		r := byID[pl.InstanceID]
		if r.Data == nil {
			if pl.RequestedBytes != 0 || pl.LocalBytes != 0 || pl.RackBytes != 0 || pl.Blocks != nil {
				return fmt.Errorf("instance %d reads nothing but has %+v", r.InstanceID, pl)
			}
			continue
		}
		idx := pl.Blocks
		if inDataGroup(r) {
			g := groups[r.Group]
			if g == nil {
				g = &group{data: r.Data, taken: make([]int, len(r.Data.Blocks))}
				groups[r.Group] = g
			}
			for _, b := range idx {
				g.taken[b]++
			}
			g.shares = append(g.shares, pl.RequestedBytes)
		} else {
			if idx != nil {
				return fmt.Errorf("ungrouped instance %d given blocks %v", r.InstanceID, idx)
			}
			for b := range r.Data.Blocks {
				idx = append(idx, b)
			}
		}
		if !slices.IsSorted(idx) {
			return fmt.Errorf("instance %d: blocks %v not sorted", r.InstanceID, idx)
		}
		var want Placement
		h := hostOf[pl.HostID]
		for _, b := range idx {
			blk := r.Data.Blocks[b]
			size := max(0, blk.Bytes)
			want.RequestedBytes += size
			near := false
			for _, id := range blk.Hosts {
				if o := hostOf[id]; o != nil && h.Rack != "" && o.Rack == h.Rack {
					near = true
				}
			}
			switch {
			case slices.Contains(blk.Hosts, h.ID):
				want.LocalBytes += size
			case near:
				want.RackBytes += size
			}
		}
		if pl.RequestedBytes != want.RequestedBytes || pl.LocalBytes != want.LocalBytes || pl.RackBytes != want.RackBytes {
			return fmt.Errorf("instance %d on %s: bytes %d/%d/%d, its blocks say %d/%d/%d", r.InstanceID, h.Name,
				pl.RequestedBytes, pl.LocalBytes, pl.RackBytes, want.RequestedBytes, want.LocalBytes, want.RackBytes)
		}
	}
	for id, g := range groups {
		var total, largest int64
		for b, n := range g.taken {
			if n != 1 {
				return fmt.Errorf("group %d: block %d given to %d members", id, b, n)
			}
			total += max(0, g.data.Blocks[b].Bytes)
			largest = max(largest, g.data.Blocks[b].Bytes)
		}
		limit := shareCap(total, largest, len(g.shares))
		for _, s := range g.shares {
			if s > limit {
				return fmt.Errorf("group %d: a share of %d bytes, cap %d", id, s, limit)
			}
		}
	}
	return nil
}

// Four hosts each hold two blocks of their own: four members go one to
// each, and each reads its own two blocks locally.
func TestDataGroupSplit(t *testing.T) {
	var blocks []Block
	for h := int64(1); h <= 4; h++ {
		blocks = append(blocks, blocksOn(2, 64*mib, h)...)
	}
	d := &Data{Blocks: blocks, Group: true}
	snap := cluster(hostN("h1", 4, 16384), hostN("h2", 4, 16384), hostN("h3", 4, 16384), hostN("h4", 4, 16384),
		hostN("h5", 16, 65536))
	var reqs []Request
	for k := range 4 {
		reqs = append(reqs, reqN(int64(101+k), 1, 1024, group(9), withData(d)))
	}
	res := Place(snap, reqs, t0)
	if err := checkShares(snap, reqs, res); err != nil {
		t.Fatal(err)
	}
	on := map[int64]bool{}
	for _, pl := range res.Placements {
		want := []int{int(2*pl.HostID - 2), int(2*pl.HostID - 1)}
		if pl.LocalBytes != 128*mib || pl.RequestedBytes != 128*mib || !slices.Equal(pl.Blocks, want) || on[pl.HostID] {
			t.Errorf("%+v: want alone on its host, with its two blocks %v, all node-local", pl, want)
		}
		on[pl.HostID] = true
		if pl.Locality() != "locality 128/128 MiB node-local" {
			t.Errorf("Locality() = %q", pl.Locality())
		}
	}
	if len(on) != 4 {
		t.Errorf("placements %v", res.Placements)
	}
}

// The data sits on a drained host: the members go to its rack, where
// their bytes are rack-local, not to the emptier far rack.
func TestDataGroupPrefersTheDataRack(t *testing.T) {
	d := &Data{Blocks: blocksOn(8, 64*mib, 1), Group: true}
	snap := cluster(hostN("h1", 8, 32768, inRack("a"), drained), hostN("h2", 8, 32768, inRack("a"), used(4, 16384)),
		hostN("h3", 8, 32768, inRack("a"), used(4, 16384)), hostN("h4", 8, 32768, inRack("b")), hostN("h5", 8, 32768, inRack("b")))
	var reqs []Request
	for k := range 4 {
		reqs = append(reqs, reqN(int64(101+k), 2, 4096, group(3), withData(d)))
	}
	res := Place(snap, reqs, t0)
	if err := checkShares(snap, reqs, res); err != nil {
		t.Fatal(err)
	}
	for _, pl := range res.Placements {
		if (pl.HostID != 2 && pl.HostID != 3) || pl.RackBytes != 128*mib || pl.LocalBytes != 0 {
			t.Errorf("%+v: want h2 or h3 (rack a), 128 MiB rack-local", pl)
		}
	}
}

// A data group that is a gang is placed whole or not at all; one that is
// not a gang places what fits, and those placed share all the blocks.
func TestDataGroupGangAndPartial(t *testing.T) {
	d := &Data{Blocks: blocksOn(12, 64*mib, 1, 2), Group: true}
	snap := cluster(hostN("h1", 4, 16384), hostN("h2", 4, 16384))
	members := func(n int, extra ...string) []Request {
		var out []Request
		for k := range n {
			out = append(out, reqN(int64(101+k), 2, 4096, group(5), withData(d), hints(extra...)))
		}
		return out
	}
	gang := members(5, "gang=true") // 10 cores asked, 8 there
	res := Place(snap, gang, t0)
	if len(res.Placements) != 0 || len(res.Unplaced) != 5 {
		t.Fatalf("gang: placed %v", res.Placements)
	}
	for _, e := range res.Unplaced {
		if e.Reason != ReasonGang || e.Count(ReasonCores) != 2 {
			t.Errorf("%s: want gang does not fit, 2 hosts short of cores", e)
		}
	}
	res = Place(snap, gang[:4], t0)
	if len(res.Placements) != 4 || len(Plans("a", res)) != 1 || !Plans("a", res)[0].Atomic {
		t.Fatalf("gang of 4: placed %v, plans %+v", res.Placements, Plans("a", res))
	}
	if err := checkShares(snap, gang[:4], res); err != nil {
		t.Fatal(err)
	}

	loose := members(5)
	res = Place(snap, loose, t0)
	if len(res.Placements) != 4 || len(res.Unplaced) != 1 || res.Unplaced[0].Reason != ReasonNoHost {
		t.Fatalf("not a gang: placed %d, unplaced %v; want 4 and 1", len(res.Placements), res.Unplaced)
	}
	if err := checkShares(snap, loose, res); err != nil {
		t.Fatal(err)
	}
	for _, pl := range res.Placements {
		if pl.RequestedBytes != 192*mib || pl.LocalBytes != 192*mib || pl.Gang != 0 {
			t.Errorf("%+v: want 3 of the 12 blocks each, all node-local", pl)
		}
	}
}

// A gang member with a bad hint sinks a data gang; in a data group that
// is not a gang it is explained alone.
func TestDataGroupInvalidMember(t *testing.T) {
	d := &Data{Blocks: blocksOn(4, 64*mib, 1), Group: true}
	snap := cluster(hostN("h1", 8, 16384))
	for _, gang := range []bool{true, false} {
		var reqs []Request
		for k := range 3 {
			kv := []string{}
			if gang {
				kv = append(kv, "gang=true")
			}
			if k == 1 {
				kv = append(kv, "dfsFiles=relative/path")
			}
			reqs = append(reqs, reqN(int64(101+k), 1, 1024, group(5), withData(d), hints(kv...)))
		}
		res := Place(snap, reqs, t0)
		e := explanationFor(t, res, 102)
		switch {
		case gang && (len(res.Placements) != 0 || e.Reason != ReasonGang || !strings.Contains(e.Detail, "dfsFiles")):
			t.Errorf("gang: placed %v, 102: %s", res.Placements, e)
		case !gang && (len(res.Placements) != 2 || e.Reason != ReasonInvalidHints):
			t.Errorf("not a gang: placed %v, 102: %s", res.Placements, e)
		}
		if err := checkShares(snap, reqs, res); err != nil {
			t.Error(err)
		}
	}
}
