package scheduler

import (
	"fmt"
	"slices"
	"testing"
)

// Random clusters and request streams: whatever Place decides, no host is
// over its cores or memory, no instance is placed twice, every placement
// is on a host that is up and Normal and passes every hard constraint,
// gangs are all or none, and every request is answered exactly once.
func TestPlaceProperties(t *testing.T) {
	for seed := range uint64(400) {
		g := newGen(seed)
		snap := g.snapshot()
		reqs := g.requests(snap)
		res := Place(snap, reqs, t0)
		if err := checkResult(snap, reqs, res); err != nil {
			t.Fatalf("seed %d (policy %+v): %v", seed, snap.Policy, err)
		}
	}
}

// checkResult returns the first broken invariant.
func checkResult(snap *Snapshot, reqs []Request, res Result) error {
	byID := map[int64]*Request{}
	for i := range reqs {
		if _, dup := byID[reqs[i].InstanceID]; !dup {
			byID[reqs[i].InstanceID] = &reqs[i]
		}
	}
	hosts := map[int64]*Host{}
	for i := range snap.Hosts {
		hosts[snap.Hosts[i].ID] = &snap.Hosts[i]
	}
	if got := len(res.Placements) + len(res.Unplaced); got != len(reqs) {
		return fmt.Errorf("%d answers for %d requests", got, len(reqs))
	}
	placed := map[int64]int64{} // instance -> host
	for _, p := range res.Placements {
		r, h := byID[p.InstanceID], hosts[p.HostID]
		switch {
		case r == nil || h == nil:
			return fmt.Errorf("placement %+v: unknown instance or host", p)
		case placed[p.InstanceID] != 0:
			return fmt.Errorf("instance %d placed twice", p.InstanceID)
		case p.Version != r.Version:
			return fmt.Errorf("instance %d placed at version %d, asked %d", p.InstanceID, p.Version, r.Version)
		case !h.Up || h.State != HostNormal:
			return fmt.Errorf("instance %d on host %s which is up=%v %v", p.InstanceID, h.Name, h.Up, h.State)
		case len(h.ReservedFor) > 0 && !slices.Contains(h.ReservedFor, r.User):
			return fmt.Errorf("instance %d of user %d on host %s reserved for %v", p.InstanceID, r.User, h.Name, h.ReservedFor)
		case r.Hints.Invalid != "":
			return fmt.Errorf("instance %d placed with invalid hints", p.InstanceID)
		}
		placed[p.InstanceID] = p.HostID
	}
	for _, e := range res.Unplaced {
		if placed[e.InstanceID] != 0 && e.Reason != ReasonDuplicate {
			return fmt.Errorf("instance %d both placed and explained (%s)", e.InstanceID, e)
		}
		if e.Reason == ReasonNoHost && (sumRejected(e) != e.Hosts || e.Hosts != len(snap.Hosts)) {
			return fmt.Errorf("instance %d: %s: counts do not add up to %d hosts", e.InstanceID, e, len(snap.Hosts))
		}
	}
	for _, check := range []func(*Snapshot, map[int64]*Request, map[int64]int64) error{
		checkCapacity, checkTargets, checkAntiAffinity, checkAffinity, checkDisks, checkGangs} {
		if err := check(snap, byID, placed); err != nil {
			return err
		}
	}
	return nil
}

func sumRejected(e Explanation) int {
	n := 0
	for _, rc := range e.Rejected {
		n += rc.Hosts
	}
	return n
}

func checkCapacity(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64) error {
	cores, mem := map[int64]int{}, map[int64]int{}
	for id, h := range placed {
		cores[h] += reqs[id].Cores
		mem[h] += reqs[id].Memory
	}
	for _, h := range snap.Hosts {
		if h.UsedCores+cores[h.ID] > h.Cores || h.UsedMemory+mem[h.ID] > h.Memory {
			return fmt.Errorf("host %s over: cores %d+%d/%d memory %d+%d/%d", h.Name,
				h.UsedCores, cores[h.ID], h.Cores, h.UsedMemory, mem[h.ID], h.Memory)
		}
	}
	return nil
}

func checkTargets(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64) error {
	for id, h := range placed {
		hi := reqs[id].Hints
		if hi.TargetHost == "" || hi.AllowElsewhere {
			continue
		}
		for _, x := range snap.Hosts {
			if x.ID == h && x.Name != hi.TargetHost && fmt.Sprint(x.ID) != hi.TargetHost {
				return fmt.Errorf("instance %d on %s, target %s", id, x.Name, hi.TargetHost)
			}
		}
	}
	return nil
}

// member is an instance (placed before or in this call) with a label.
type member struct {
	id, host int64
	key      labelKey
	hard     bool
	fresh    bool
}

func labelMembers(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64, anti bool) []member {
	var out []member
	for _, in := range snap.Instances {
		l := in.Affinity
		if anti {
			l = in.AntiAffinity
		}
		if l.Name != "" {
			out = append(out, member{in.ID, in.Host, labelKeyOf(anti, in.Group, in.User, l.Name), !l.Soft, false})
		}
	}
	for id, h := range placed {
		r := reqs[id]
		l := r.Hints.Affinity
		if anti {
			l = r.Hints.AntiAffinity
		}
		if l.Name != "" {
			out = append(out, member{id, h, labelKeyOf(anti, r.Group, r.User, l.Name), !l.Soft, true})
		}
	}
	return out
}

// checkAntiAffinity: no host holds a hard member and another member of the
// same label and scope, where at least one was placed by this call.
func checkAntiAffinity(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64) error {
	ms := labelMembers(snap, reqs, placed, true)
	for _, a := range ms {
		for _, b := range ms {
			if a.id != b.id && a.host == b.host && a.key == b.key && (a.fresh || b.fresh) && (a.hard || b.hard) {
				return fmt.Errorf("anti-affinity %q broken by %d and %d on host %d", a.key.name, a.id, b.id, a.host)
			}
		}
	}
	return nil
}

// checkAffinity: a hard affinity member placed by this call shares its
// host with another member, unless no member was on any host before it
// was placed (then it may be the first; at most one such host per label
// can be opened by this call).
func checkAffinity(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64) error {
	ms := labelMembers(snap, reqs, placed, false)
	opened := map[labelKey]map[int64]bool{}
	for _, a := range ms {
		if !a.fresh || !a.hard {
			continue
		}
		alone := true
		for _, b := range ms {
			if b.id != a.id && b.key == a.key && b.host == a.host {
				alone = false
			}
		}
		if alone {
			for _, b := range ms {
				if b.key == a.key && !b.fresh {
					return fmt.Errorf("affinity %q: %d alone on host %d, member %d on %d", a.key.name, a.id, a.host, b.id, b.host)
				}
			}
		}
		if opened[a.key] == nil {
			opened[a.key] = map[int64]bool{}
		}
		opened[a.key][a.host] = true
	}
	for k, hs := range opened {
		if len(hs) > 1 {
			hasOld := false
			for _, b := range ms {
				hasOld = hasOld || (b.key == k && !b.fresh)
			}
			if !hasOld && !softMembersPlaced(ms, k) {
				return fmt.Errorf("affinity %q: hard members on %d hosts", k.name, len(hs))
			}
		}
	}
	return nil
}

func softMembersPlaced(ms []member, k labelKey) bool {
	for _, m := range ms {
		if m.key == k && m.fresh && !m.hard {
			return true
		}
	}
	return false
}

func checkDisks(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64) error {
	holder := map[string]int64{}
	for _, in := range snap.Instances {
		for _, d := range in.PersistentDisks {
			holder[d] = in.ID
		}
	}
	for id := range placed {
		for _, d := range reqs[id].PersistentDisks {
			if h, ok := holder[d]; ok && h != id {
				return fmt.Errorf("disk %s given to %d, held by %d", d, id, h)
			}
			holder[d] = id
		}
	}
	return nil
}

func checkGangs(snap *Snapshot, reqs map[int64]*Request, placed map[int64]int64) error {
	in, out := map[int64]int{}, map[int64]int{}
	for id, r := range reqs {
		if !r.Hints.Gang || r.Group == 0 {
			continue
		}
		if placed[id] != 0 {
			in[r.Group]++
		} else {
			out[r.Group]++
		}
	}
	for g := range in {
		if out[g] > 0 {
			return fmt.Errorf("gang %d: %d placed, %d not", g, in[g], out[g])
		}
	}
	return nil
}
