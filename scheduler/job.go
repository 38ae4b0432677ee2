package scheduler

import "strconv"

const (
	noTarget      int32 = -1 // no targetHost hint, or after allowElsewhere
	unknownTarget int32 = -2 // the hint names no host: every host is rejected
)

// job is one request being decided, with what the filters need resolved
// once: the target host, the label members, the mode and the seed.
type job struct {
	r        *Request
	seed     uint64
	dense    bool
	target   int32
	diskBusy bool

	anti, affine      *label // the scope's members with the request's labels
	antiHard, affHard bool
	antiSoft, affSoft bool
	score             float64 // of the chosen host

	loadAware bool
	data      *dataView // an ungrouped request's data; nil without
	share     *vmShare  // a data group member's share, once assigned
}

func (p *placer) newJob(r *Request) job {
	j := job{r: r, seed: Seed(r.InstanceID, r.Version), dense: p.dense, target: noTarget}
	if r.Hints.DensePack != nil {
		j.dense = *r.Hints.DensePack
	}
	j.loadAware = p.snap.Policy.LoadAware
	if r.Hints.LoadAware != nil {
		j.loadAware = *r.Hints.LoadAware
	}
	if r.Data != nil && !inDataGroup(r) {
		j.data = p.dataView(r.Data)
	}
	if r.Hints.TargetHost != "" {
		j.target = p.resolve(r.Hints.TargetHost)
	}
	if l := r.Hints.AntiAffinity; l.Name != "" {
		j.anti = p.labelIndex().get(labelKeyOf(true, r.Group, r.User, l.Name))
		j.antiHard, j.antiSoft = !l.Soft, l.Soft
	}
	if l := r.Hints.Affinity; l.Name != "" {
		j.affine = p.labelIndex().get(labelKeyOf(false, r.Group, r.User, l.Name))
		j.affHard, j.affSoft = !l.Soft, l.Soft
	}
	return j
}

// Seed is the tie-break seed of a request: a hash of its instance id and
// version. Replaying a decision needs only the same snapshot and request.
func Seed(instanceID, version int64) uint64 {
	return mix(uint64(instanceID)*0x9e3779b97f4a7c15 ^ mix(uint64(version)))
}

// mix is SplitMix64's finaliser: a cheap, well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// resolve finds a targetHost by name, else by id.
func (p *placer) resolve(target string) int32 {
	if p.byName == nil {
		p.byName = make(map[string]int32, len(p.hosts))
		for i := range p.hosts {
			p.byName[p.hosts[i].Name] = int32(i)
		}
	}
	if i, ok := p.byName[target]; ok {
		return i
	}
	if id, err := strconv.ParseInt(target, 10, 64); err == nil {
		if i, ok := p.hostIndex(id); ok {
			return i
		}
	}
	return unknownTarget
}

func (p *placer) hostIndex(id int64) (int32, bool) {
	if p.byID == nil {
		p.byID = make(map[int64]int32, len(p.hosts))
		for i := range p.hosts {
			p.byID[p.hosts[i].ID] = int32(i)
		}
	}
	i, ok := p.byID[id]
	return i, ok
}
