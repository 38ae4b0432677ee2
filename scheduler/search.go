package scheduler

import "slices"

// choose finds the host for j, or -1. It tries the target host first;
// then, unless a hard affinity pins the request to its label's hosts, it
// collects up to p.limit feasible hosts, the tightest fits first for
// densePack (walk) or in a seeded random order for spread (sample), and
// scores them.
func (p *placer) choose(j *job) int32 {
	j.diskBusy = diskBusy(p.disks, j.r)
	p.tallied = false
	if j.target >= 0 && p.check(j.target, j) == OK {
		p.cands = append(p.cands[:0], j.target)
		return p.best(j)
	}
	if j.target != noTarget {
		if !j.r.Hints.AllowElsewhere {
			return -1
		}
		j.target = noTarget
	}
	if j.diskBusy || (p.index != nil && !p.index.anyFree(j.r.Cores)) {
		return -1 // no host has the cores: explain counts by the index
	}
	p.cands = p.cands[:0]
	switch {
	case j.affHard && len(j.affine.all) > 0:
		p.collectMembers(j)
	case j.dense:
		p.walk(j)
	default:
		p.sample(j)
		if len(p.cands) == 0 {
			p.freeIndex() // the cluster may be full: let later requests ask the index first
		}
	}
	if j.data != nil && p.locality && p.limit > 0 && !(j.affHard && len(j.affine.all) > 0) {
		p.collectData(j)
	}
	return p.best(j)
}

// walk visits the free-cores buckets upwards from the request's cores
// until p.limit feasible hosts are found or the buckets run out.
func (p *placer) walk(j *job) {
	bs := p.freeIndex().buckets
	for c := j.r.Cores; c < len(bs); c++ {
		if p.scan(j, bs[c], c) {
			return
		}
	}
}

// sample visits every host once in a pseudo-random order seeded from the
// request (a seeded start and a seeded stride coprime with the number of
// hosts) until p.limit feasible hosts are found. Taking the emptiest of a
// few random hosts is the "power of d choices": close to the balance of
// an exhaustive search at a fraction of the cost. It counts the reasons
// as it goes: when it has seen every host, explain needs no second scan.
func (p *placer) sample(j *job) {
	n := uint64(len(p.hosts))
	k, step := uint64(0), uint64(1)
	if n > 0 {
		k, step = mix(j.seed)%n, coprimeStep(mix(j.seed+1), n)
	}
	p.tally = tally{}
	for range n {
		why := p.check(int32(k), j)
		p.tally[why]++
		if why == OK {
			p.cands = append(p.cands, int32(k))
			if p.limit > 0 && len(p.cands) >= p.limit {
				return
			}
		}
		if k += step; k >= n {
			k -= n
		}
	}
	p.tallied = true
}

// coprimeStep is a step in 1..n-1 coprime with n (1 when n < 3), drawn
// from r, so that stepping by it from any start visits all n positions.
func coprimeStep(r, n uint64) uint64 {
	if n < 3 {
		return 1
	}
	s := 1 + r%(n-1)
	for gcd(s, n) != 1 {
		if s++; s == n {
			s = 1
		}
	}
	return s
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// scan adds the feasible hosts of one bucket, starting at an offset
// seeded from the request so that equal hosts are drawn in a different
// order for each request. It reports whether the limit is reached.
func (p *placer) scan(j *job, b []int32, c int) bool {
	n := len(b)
	if n == 0 {
		return false
	}
	k := int(mix(j.seed+uint64(c)) % uint64(n))
	for range n {
		if i := b[k]; p.check(i, j) == OK {
			p.cands = append(p.cands, i)
			if p.limit > 0 && len(p.cands) >= p.limit {
				return true
			}
		}
		if k++; k == n {
			k = 0
		}
	}
	return false
}

// collectMembers: with a hard affinity and members already placed, only
// their hosts can pass, so look at those alone, in index order.
func (p *placer) collectMembers(j *job) {
	for i := range j.affine.all {
		if p.check(i, j) == OK {
			p.cands = append(p.cands, i)
		}
	}
	slices.Sort(p.cands)
}

// best scores the candidates and returns the highest. Ties go to the
// host that comes first in a shuffle seeded from the request: the one
// with the lowest mix(seed ^ host id).
func (p *placer) best(j *job) int32 {
	win, top, tie := int32(-1), 0.0, uint64(0)
	for _, i := range p.cands {
		s := p.score(j, i)
		t := mix(j.seed ^ uint64(p.hosts[i].ID))
		if win < 0 || s > top || (s == top && t < tie) {
			win, top, tie = i, s, t
		}
	}
	j.score = top
	return win
}

// score is the weighted sum of the policy's scorers for host i.
func (p *placer) score(j *job, i int32) float64 {
	c := Candidate{Host: &p.hosts[i], UsedCores: p.usedCores(i), UsedMemory: p.usedMemory(i),
		Request: j.r, DensePack: j.dense, AddedCores: int(p.added[i].cores),
		AddedMemory: int(p.added[i].memory), LoadAware: j.loadAware, RackCredit: p.credit}
	switch {
	case j.data != nil:
		c.RequestedBytes, c.LocalBytes, c.RackBytes = j.data.total, j.data.local(i), j.data.rackOnly(i, p.racks())
	case j.share != nil:
		c.RequestedBytes, c.LocalBytes, c.RackBytes = j.share.requested, j.share.local, j.share.rack
	}
	if j.affSoft {
		c.Affine = int(j.affine.all[i])
	}
	if j.antiSoft {
		c.AntiAffine = int(j.anti.all[i])
	}
	total := 0.0
	for k := range p.scorers {
		total += p.scorers[k].Weight * p.scorers[k].Score(c)
	}
	return total
}

// commit puts j on host i: usage, index, labels and disks follow.
func (p *placer) commit(j *job, i int32) { p.apply(j.r, i, 1) }

// uncommit takes j off host i again (a gang that did not fit).
func (p *placer) uncommit(j *job, i int32) { p.apply(j.r, i, -1) }

func (p *placer) apply(r *Request, i int32, sign int) {
	p.added[i].cores += int32(sign * r.Cores)
	p.added[i].memory += int32(sign * r.Memory)
	if p.index != nil {
		p.index.update(i, p.freeCores(i))
	}
	if h := r.Hints; h.Affinity.Name != "" || h.AntiAffinity.Name != "" {
		p.labelIndex().add(r.Group, r.User, h.Affinity, h.AntiAffinity, i, int32(sign))
	}
	for _, d := range r.PersistentDisks {
		if sign > 0 {
			p.disks[d] = r.InstanceID
		} else {
			delete(p.disks, d)
		}
	}
}
